/**
 * fal webhooks (`?fal_webhook=<url>` on submit): a POST of `{request_id, gateway_request_id, status:
 * "OK" | "ERROR", payload, error}` once the request ends. fal signs them with Ed25519 keys published at a
 * JWKS URL on its own host; checking that needs a fetch of fal's keys, so this adapter does not, and our
 * per-job token in the URL is the check. The body decides nothing: the workflow reads the job's state
 * from fal's queue API, so a callback can only make it look sooner.
 */
import { callbackJson, callbackRefused } from '../http';
import type { ProviderCallback, ProviderCallbackResult } from '../types';

export function readFalCallback(callback: ProviderCallback): ProviderCallbackResult {
  const body = callbackJson('fal', callback.rawBody);
  if (typeof body.request_id !== 'string' || !body.request_id) throw callbackRefused('fal callback body has no request_id');
  return { kind: 'job-update', jobId: body.request_id };
}
