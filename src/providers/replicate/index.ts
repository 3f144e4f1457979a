/**
 * `replicate` adapter: `POST /models/{owner}/{name}/predictions` (or `POST /predictions` with a pinned
 * version), poll `GET /predictions/{id}`, cancel with `POST /predictions/{id}/cancel`. Plain HTTP against
 * `channel.baseUrl` (`.../v1`); never retries. Outputs are deleted 1 h after completion: copy promptly.
 */
import { badResponse, joinUrl, parseBody, parseChannelSettings, sendOk, type HttpCall } from '../http';
import type { CancelOutcome, ChannelAccess, JobRef, MediaProvider, MediaRequest, ProviderCallback, ProviderJob, SubmitContext } from '../types';
import { readReplicateCallback } from './callback';
import { Prediction, ReplicateSettings } from './dto';
import { readReplicateError } from './errors';
import { REPLICATE_PRICED_KEYS, createTarget, predictionJob } from './mapping';

const PROVIDER = 'replicate';

export { ReplicateSettings } from './dto';

/** Creates the `replicate` media provider (image, video, music). */
export function createReplicateProvider(): MediaProvider {
  function call(
    channel: ChannelAccess,
    operation: string,
    method: HttpCall['method'],
    path: string,
    json?: unknown,
    extraHeaders: Record<string, string> = {},
  ): HttpCall {
    const settings = parseChannelSettings(PROVIDER, ReplicateSettings, channel);
    return {
      provider: PROVIDER,
      operation,
      method,
      url: joinUrl(channel.baseUrl, path),
      headers: { authorization: `Bearer ${channel.apiKey}`, ...extraHeaders },
      json,
      timeoutMs: settings.timeoutMs,
      secrets: [channel.apiKey],
    };
  }

  function toJob(c: HttpCall, status: number, p: Prediction, request: MediaRequest): ProviderJob {
    const job = predictionJob(p, request, c.secrets);
    if (!job) throw badResponse(c, `unknown prediction status "${p.status}"`, status);
    return job;
  }

  async function submit(channel: ChannelAccess, request: MediaRequest, ctx: SubmitContext): Promise<ProviderJob> {
    const settings = parseChannelSettings(PROVIDER, ReplicateSettings, channel);
    const target = createTarget(request, settings.inputKeys);
    const path = target.path;
    // Only the final state wakes us: `start`, `output` and `logs` events would each cost a status read.
    const body = ctx.callbackUrl ? { ...target.body, webhook: ctx.callbackUrl, webhook_events_filter: ['completed'] } : target.body;
    const prefer = settings.preferWaitSeconds ? { prefer: `wait=${settings.preferWaitSeconds}` } : undefined;
    const c = call(channel, 'submit', 'POST', path, body, prefer);
    const reply = await sendOk(c, readReplicateError);
    return toJob(c, reply.status, parseBody(c, reply, Prediction), request);
  }

  async function status(channel: ChannelAccess, job: JobRef): Promise<ProviderJob> {
    const c = call(channel, 'status', 'GET', `predictions/${encodeURIComponent(job.jobId)}`);
    const reply = await sendOk(c, readReplicateError, { notFoundCode: 'not_found' });
    return toJob(c, reply.status, parseBody(c, reply, Prediction), job.request);
  }

  /**
   * Replicate cancels starting and processing predictions and answers with the prediction: `canceled` or
   * still `starting` (never ran, never billed) → `cancelled`; still `processing` → `requested` (it bills
   * the predict time, and may still finish); already final → `already_finished`.
   */
  async function cancel(channel: ChannelAccess, job: JobRef): Promise<CancelOutcome> {
    const c = call(channel, 'cancel', 'POST', `predictions/${encodeURIComponent(job.jobId)}/cancel`);
    const reply = await sendOk(c, readReplicateError, { notFoundCode: 'not_found' });
    const p = parseBody(c, reply, Prediction);
    if (p.status === 'canceled' || p.status === 'starting') return 'cancelled';
    if (p.status === 'processing') return 'requested';
    return 'already_finished';
  }

  return {
    id: PROVIDER,
    kinds: ['image', 'video', 'music'],
    pricedKeys: REPLICATE_PRICED_KEYS,
    deliveredFrom: 'images: the output files; video and music: the priced duration (Replicate reports no length)',
    submit,
    status,
    cancel,
    readCallback(channel: ChannelAccess, callback: ProviderCallback) {
      return readReplicateCallback(parseChannelSettings(PROVIDER, ReplicateSettings, channel).webhookSecret, callback);
    },
  };
}
