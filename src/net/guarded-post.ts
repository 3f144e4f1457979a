import http from 'node:http';
import https from 'node:https';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import type { OutboundGuard } from './outbound-guard';

/**
 * POSTs to a consumer-supplied URL. The address is checked again at connect time, inside the socket's
 * own DNS lookup, so a host that resolved to a public address when the task was created cannot be
 * re-pointed at our private network (DNS rebinding). Redirects are never followed.
 */
export function guardedPost(
  url: string,
  body: string,
  headers: Record<string, string>,
  opts: { guard: OutboundGuard; timeoutMs: number },
): Promise<{ status: number }> {
  const target = new URL(url);
  // node connects to an IP literal without calling `lookup`, so the check below would never see it.
  const literal = target.hostname.replace(/^\[|\]$/g, '');
  if (isIP(literal) !== 0 && !opts.guard.addressAllowed(literal, literal)) {
    return Promise.reject(Object.assign(new Error(`Refused to connect to ${literal}: private address`), { code: 'EREFUSEDPRIVATE' }));
  }
  const lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '', 0);
      const list = addresses as unknown as LookupAddress[];
      const refused = list.find((entry) => !opts.guard.addressAllowed(hostname, entry.address));
      if (refused || list.length === 0) {
        return callback(Object.assign(new Error(`Refused to connect to ${hostname}: private address`), { code: 'EREFUSEDPRIVATE' }), '', 0);
      }
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
      callback(null, list[0]!.address, list[0]!.family);
    });
  };
  const client = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const request = client.request(
      target,
      { method: 'POST', headers: { ...headers, 'content-length': Buffer.byteLength(body) }, lookup, timeout: opts.timeoutMs },
      (response) => {
        response.resume();
        response.on('end', () => resolve({ status: response.statusCode ?? 0 }));
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`No answer within ${opts.timeoutMs} ms`)));
    request.on('error', reject);
    request.end(body);
  });
}
