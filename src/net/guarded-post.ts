import { createOutboundClient } from './outbound-client';
import type { OutboundGuard } from './outbound-guard';

/**
 * POSTs to a consumer-supplied URL through the shared outbound client (guard on every hop, address
 * checked again at connect time). Redirects are never followed: a 3xx is the receiver's answer.
 */
export async function guardedPost(
  url: string,
  body: string,
  headers: Record<string, string>,
  opts: { guard: OutboundGuard; timeoutMs: number },
): Promise<{ status: number }> {
  const response = await createOutboundClient(opts.guard).request(url, { method: 'POST', headers, body, timeoutMs: opts.timeoutMs });
  await new Promise<void>((resolve, reject) => {
    response.body.on('end', resolve);
    response.body.on('error', reject);
    response.body.resume();
  });
  return { status: response.status };
}
