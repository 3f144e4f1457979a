import { BlockList, isIP } from 'node:net';

/** `::ffff:1.2.3.4` (how Node reports IPv4 clients on a dual-stack socket) becomes `1.2.3.4`. */
export function normalizeIp(ip: string): string {
  const trimmed = ip.trim().replace(/^\[|\]$/g, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(trimmed);
  return mapped ? mapped[1]! : trimmed;
}

/** True when the entry is an IPv4/IPv6 address or CIDR that `ipSet` accepts. */
export function isIpOrCidr(entry: string): boolean {
  const [address, bits, extra] = entry.trim().split('/');
  if (extra !== undefined || !address) return false;
  const family = isIP(address);
  if (family === 0) return false;
  if (bits === undefined) return true;
  if (!/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

/** A set of addresses and CIDRs (v4 and v6) that answers `has(ip)`. Entries that aren't IPs are ignored. */
export interface IpSet {
  has(ip: string): boolean;
}

export function ipSet(entries: readonly string[]): IpSet {
  const list = new BlockList();
  let empty = true;
  for (const entry of entries) {
    if (!isIpOrCidr(entry)) continue;
    const [address, bits] = entry.trim().split('/') as [string, string | undefined];
    const family = isIP(address) === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(bits), family);
    empty = false;
  }
  return {
    has(ip) {
      if (empty) return false;
      const normalized = normalizeIp(ip);
      const family = isIP(normalized);
      if (family === 0) return false;
      return list.check(normalized, family === 4 ? 'ipv4' : 'ipv6');
    },
  };
}

/**
 * The client's address: the socket peer, or, when that peer is a trusted proxy, the right-most
 * X-Forwarded-For entry that is not itself a trusted proxy.
 */
export function clientIp(socketIp: string, forwardedFor: string | undefined, trustedProxies: IpSet): string {
  let current = normalizeIp(socketIp);
  if (!forwardedFor || !trustedProxies.has(current)) return current;
  const hops = forwardedFor.split(',').map((hop) => normalizeIp(hop)).filter((hop) => isIP(hop) !== 0);
  for (let i = hops.length - 1; i >= 0; i--) {
    current = hops[i]!;
    if (!trustedProxies.has(current)) return current;
  }
  return current;
}
