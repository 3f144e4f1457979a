/**
 * Replicate webhooks: the prediction as JSON, signed per Standard Webhooks (`webhook-id`,
 * `webhook-timestamp`, `webhook-signature`: HMAC-SHA256 of `id.timestamp.body` with the account's
 * `whsec_` secret). The library refuses a timestamp more than 5 minutes off, so a captured callback
 * replayed later is refused too.
 */
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { callbackJson, callbackRefused } from '../http';
import type { ProviderCallback, ProviderCallbackResult } from '../types';

/** Reads one webhook: `secret` set → the signature must hold; the body must be a prediction. */
export function readReplicateCallback(secret: string | undefined, callback: ProviderCallback): ProviderCallbackResult {
  const body = callback.rawBody.toString('utf8');
  if (secret) {
    const headers = {
      'webhook-id': callback.headers['webhook-id'] ?? '',
      'webhook-timestamp': callback.headers['webhook-timestamp'] ?? '',
      'webhook-signature': callback.headers['webhook-signature'] ?? '',
    };
    try {
      new Webhook(secret).verify(body, headers);
    } catch (error) {
      const why = error instanceof WebhookVerificationError ? error.message : 'unreadable signature';
      throw callbackRefused(`replicate webhook refused: ${why}`);
    }
  }
  const prediction = callbackJson('replicate', callback.rawBody);
  if (typeof prediction.id !== 'string' || !prediction.id) throw callbackRefused('replicate callback body is not a prediction');
  return { kind: 'job-update', jobId: prediction.id };
}

