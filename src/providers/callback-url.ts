import type { SecretBox } from '../security/secrets';

/** One provider job's callback address: which task, which channel attempt, on which channel. */
export interface CallbackTarget {
  taskId: string;
  attempt: number;
  channelId: string;
}

/** The route providers call back on (the OpenAPI table and the router share it). */
export const PROVIDER_CALLBACK_ROUTE = '/v1/provider-callbacks/:taskId/:attempt/:channelId/:token';

/**
 * Our per-job token: an HMAC of task, attempt and channel with the gateway secret. Only the gateway can
 * make one, so a callback that carries it came from whoever we gave the URL to, for that job alone.
 */
export function callbackToken(box: SecretBox, target: CallbackTarget): string {
  return box.sign(tokenInput(target));
}

/** Whether `token` is ours for `target` (constant-time). */
export function callbackTokenValid(box: SecretBox, target: CallbackTarget, token: string): boolean {
  return box.verify(tokenInput(target), token);
}

/** The URL handed to the adapter as `SubmitContext.callbackUrl`. */
export function providerCallbackUrl(publicUrl: string, box: SecretBox, target: CallbackTarget): string {
  const parts = [target.taskId, String(target.attempt), target.channelId, callbackToken(box, target)].map(encodeURIComponent);
  return `${publicUrl}/v1/provider-callbacks/${parts.join('/')}`;
}

function tokenInput(target: CallbackTarget): string {
  return `provider-callback:${target.taskId}:${target.attempt}:${target.channelId}`;
}
