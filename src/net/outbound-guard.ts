import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { ipSet, isIpOrCidr, normalizeIp, type IpSet } from './ip';

/** Addresses a consumer-supplied URL may never reach unless the operator allowlists them. */
const PRIVATE_RANGES = ipSet([
  '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12',
  '192.0.0.0/24', '192.168.0.0/16', '198.18.0.0/15', '224.0.0.0/4', '240.0.0.0/4', '255.255.255.255/32',
  '::/128', '::1/128', 'fc00::/7', 'fe80::/10', 'ff00::/8', '64:ff9b::/96',
  // IPv4-compatible (::127.0.0.1) and IPv4-translated (::ffff:0:127.0.0.1) spellings of IPv4 addresses:
  // Linux does not route them, but a stack that does would reach the IPv4 address they embed.
  '::/96', '::ffff:0:0:0/96',
]);

export type OutboundVerdict = { ok: true } | { ok: false; reason: string };

/**
 * Decides whether the gateway may call a URL a consumer gave it (callback_url, media references).
 * http(s) only; the host's every resolved address must be public, or the host or address must match
 * OUTBOUND_ALLOWLIST (CIDRs or host names).
 */
export interface OutboundGuard {
  check(url: string): Promise<OutboundVerdict>;
  /** Whether a connection to `address` (resolved from `host`) is allowed: used at connect time. */
  addressAllowed(host: string, address: string): boolean;
}

export function createOutboundGuard(opts: {
  allowlist: readonly string[];
  resolve?: (host: string) => Promise<string[]>;
}): OutboundGuard {
  const allowedAddresses: IpSet = ipSet(opts.allowlist);
  const allowedHosts = new Set(opts.allowlist.filter((entry) => !isIpOrCidr(entry)).map((host) => host.trim().toLowerCase()));
  const resolve = opts.resolve ?? (async (host: string) => (await lookup(host, { all: true })).map((r) => r.address));

  const addressAllowed = (host: string, address: string) =>
    allowedHosts.has(normalizeIp(host.toLowerCase())) || !PRIVATE_RANGES.has(address) || allowedAddresses.has(address);

  return {
    addressAllowed,
    async check(raw) {
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        return { ok: false, reason: 'is not a valid URL' };
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, reason: 'must use http or https' };
      if (url.username || url.password) return { ok: false, reason: 'must not carry credentials' };
      const host = normalizeIp(url.hostname.toLowerCase());
      if (allowedHosts.has(host)) return { ok: true };
      let addresses: string[];
      if (isIP(host) !== 0) addresses = [host];
      else {
        try {
          addresses = await resolve(host);
        } catch {
          return { ok: false, reason: `host ${host} does not resolve` };
        }
      }
      if (addresses.length === 0) return { ok: false, reason: `host ${host} does not resolve` };
      for (const address of addresses) {
        if (!addressAllowed(host, address)) return { ok: false, reason: 'points at a private, loopback or link-local address' };
      }
      return { ok: true };
    },
  };
}
