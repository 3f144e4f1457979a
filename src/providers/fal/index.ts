/**
 * `fal` adapter (queue API): `POST {base}/{model}` with the model input as the body, then the returned
 * `status_url` (202 while pending, 200 once COMPLETED), `response_url` (the result, or the error with
 * `X-Fal-Retryable`) and `cancel_url`. Plain HTTP against `channel.baseUrl` (`https://queue.fal.run`) with
 * `Authorization: Key <key>`; never retries.
 */
import {
  badResponse,
  clip,
  errorFromReply,
  isRecord,
  joinUrl,
  parseBody,
  parseChannelSettings,
  parseJson,
  scrub,
  send,
  sendOk,
  type HttpCall,
} from '../http';
import {
  ProviderError,
  type CancelOutcome,
  type ChannelAccess,
  type JobRef,
  type MediaProvider,
  type MediaRequest,
  type ProviderCallback,
  type ProviderJob,
  type SubmitContext,
} from '../types';
import { readFalCallback } from './callback';
import { CancelAnswer, FalSettings, QueueStatus, QueueSubmitted } from './dto';
import { isFalRetryable, readFalError, readFalFailure } from './errors';
import { FAL_PRICED_KEYS, appId, modelInput, resultOutputs } from './mapping';

const PROVIDER = 'fal';

export { FalSettings } from './dto';

/** The three queue URLs kept in `ProviderJob.handles` (no secrets in them). */
interface QueueUrls {
  status_url: string;
  response_url: string;
  cancel_url: string;
}

/** Creates the `fal` media provider (image, video, music). */
export function createFalProvider(): MediaProvider {
  function call(channel: ChannelAccess, operation: string, method: HttpCall['method'], url: string, json?: unknown): HttpCall {
    const settings = parseChannelSettings(PROVIDER, FalSettings, channel);
    return {
      provider: PROVIDER,
      operation,
      method,
      url,
      headers: { authorization: `Key ${channel.apiKey}` },
      json,
      timeoutMs: settings.timeoutMs,
      secrets: [channel.apiKey],
    };
  }

  /**
   * The URLs fal returned, else the documented `{base}/{app}/requests/{id}` ones. The key is only ever
   * sent to the channel's own origin: a URL elsewhere is refused as a bad response.
   */
  function queueUrls(channel: ChannelAccess, requestId: string, model: string, given: Partial<Record<keyof QueueUrls, string | null | undefined>>): QueueUrls {
    const root = joinUrl(channel.baseUrl, `${appId(model)}/requests/${encodeURIComponent(requestId)}`);
    const urls: QueueUrls = {
      status_url: given.status_url || `${root}/status`,
      response_url: given.response_url || root,
      cancel_url: given.cancel_url || `${root}/cancel`,
    };
    const origin = new URL(channel.baseUrl).origin;
    for (const [name, url] of Object.entries(urls)) {
      let ok = false;
      try {
        ok = new URL(url).origin === origin;
      } catch {
        ok = false;
      }
      if (!ok) {
        throw badResponse({ provider: PROVIDER, operation: 'submit', secrets: [channel.apiKey] }, `${name} ${url} is not on the channel's origin ${origin}`);
      }
    }
    return urls;
  }

  function urlsOf(channel: ChannelAccess, job: JobRef): QueueUrls {
    const h = job.handles ?? {};
    return queueUrls(channel, job.jobId, job.request.model, { status_url: h.status_url, response_url: h.response_url, cancel_url: h.cancel_url });
  }

  async function submit(channel: ChannelAccess, request: MediaRequest, ctx: SubmitContext): Promise<ProviderJob> {
    const settings = parseChannelSettings(PROVIDER, FalSettings, channel);
    const path = request.model.split('/').filter(Boolean).map(encodeURIComponent).join('/');
    // fal takes the webhook as a query parameter of the submit, and calls it once the request ends.
    const webhook = ctx.callbackUrl ? `?fal_webhook=${encodeURIComponent(ctx.callbackUrl)}` : '';
    const c = call(channel, 'submit', 'POST', joinUrl(channel.baseUrl, path) + webhook, modelInput(request, settings.inputKeys));
    const reply = await sendOk(c, readFalError);
    const submitted = parseBody(c, reply, QueueSubmitted);
    const urls = queueUrls(channel, submitted.request_id, request.model, submitted);
    return { jobId: submitted.request_id, status: 'queued', progress: null, outputs: [], handles: { ...urls } };
  }

  async function status(channel: ChannelAccess, job: JobRef): Promise<ProviderJob> {
    const urls = urlsOf(channel, job);
    const c = call(channel, 'status', 'GET', urls.status_url);
    const reply = await sendOk(c, readFalError, { notFoundCode: 'not_found' });
    const s = parseBody(c, reply, QueueStatus);
    const base = { jobId: job.jobId, progress: null, outputs: [], handles: { ...urls } };
    switch (s.status) {
      case 'IN_QUEUE':
        return { ...base, status: 'queued' };
      case 'IN_PROGRESS':
        return { ...base, status: 'processing' };
      case 'CANCELED':
      case 'CANCELLED':
        return { ...base, status: 'cancelled' };
      case 'COMPLETED':
      case 'FAILED':
        return result(channel, job, urls);
      default:
        throw badResponse(c, `unknown queue status "${s.status}"`, reply.status);
    }
  }

  /**
   * The result of a COMPLETED request. 2xx: outputs. A cancelled request (`client_cancelled`): cancelled.
   * 401/403/404/429, and 5xx without any job-level signal, are errors of the call itself and are thrown.
   * Anything else is the job's failure: content policy never retries; otherwise `X-Fal-Retryable` decides.
   */
  async function result(channel: ChannelAccess, job: JobRef, urls: QueueUrls): Promise<ProviderJob> {
    const c = call(channel, 'result', 'GET', urls.response_url);
    const reply = await send(c);
    const base = { jobId: job.jobId, progress: null, outputs: [], handles: { ...urls } };
    if (reply.status >= 200 && reply.status <= 299) {
      const body = parseJson(c, reply);
      if (!isRecord(body)) throw badResponse(c, 'result is not a JSON object', reply.status);
      const outputs = resultOutputs(body, job.request.kind);
      if (outputs.length === 0) {
        return { ...base, status: 'failed', error: { code: 'job_failed', retryable: false, message: `fal request ${job.jobId} completed without any output file` } };
      }
      // fal's File objects carry no length: video and music are the priced duration, which went upstream.
      const seconds = job.request.duration;
      const usage = job.request.kind === 'image' ? { images: outputs.length } : seconds !== undefined ? { seconds } : {};
      return { ...base, status: 'succeeded', progress: 100, outputs, usage };
    }
    let body: unknown;
    try {
      body = JSON.parse(reply.text);
    } catch {
      body = undefined;
    }
    const retryHeader = reply.headers.get('x-fal-retryable');
    const failure = readFalFailure(body, reply.headers.get('x-fal-error-type'));
    if (failure.type === 'client_cancelled') return { ...base, status: 'cancelled' };
    const jobSignal = retryHeader !== null || failure.type !== undefined;
    if ([401, 403, 404, 429].includes(reply.status) || (reply.status >= 500 && !jobSignal) || body === undefined) {
      throw errorFromReply(c, reply, readFalError, { notFoundCode: 'not_found' });
    }
    return {
      ...base,
      status: 'failed',
      error: {
        code: failure.policy ? 'content_policy_violation' : 'job_failed',
        retryable: !failure.policy && isFalRetryable(retryHeader, failure.type),
        httpStatus: reply.status,
        providerCode: failure.type,
        message: clip(scrub(`fal request ${job.jobId} failed${failure.type ? ` (${failure.type})` : ''}: ${failure.message}`, c.secrets)),
      },
    };
  }

  /**
   * PUT cancel_url: CANCELLATION_REQUESTED → `requested` (fal only asks the app to stop: a running request
   * may still complete and be billed, so the gateway follows it), ALREADY_COMPLETED → `already_finished`.
   */
  async function cancel(channel: ChannelAccess, job: JobRef): Promise<CancelOutcome> {
    const urls = urlsOf(channel, job);
    const c = call(channel, 'cancel', 'PUT', urls.cancel_url);
    const reply = await send(c);
    let answer: string | undefined;
    try {
      const parsed = CancelAnswer.safeParse(JSON.parse(reply.text));
      answer = parsed.success ? (parsed.data.status ?? undefined) : undefined;
    } catch {
      answer = undefined;
    }
    if (answer === 'CANCELLATION_REQUESTED') return 'requested';
    if (answer === 'ALREADY_COMPLETED') return 'already_finished';
    if (answer === 'NOT_FOUND') {
      throw new ProviderError({ code: 'not_found', retryable: false, httpStatus: reply.status, message: `fal cancel: request ${job.jobId} not found` });
    }
    if (reply.status < 200 || reply.status > 299) throw errorFromReply(c, reply, readFalError, { notFoundCode: 'not_found' });
    throw badResponse(c, `cancel answered ${reply.status} without a known status`, reply.status);
  }

  return {
    id: PROVIDER,
    kinds: ['image', 'video', 'music'],
    pricedKeys: FAL_PRICED_KEYS,
    deliveredFrom: 'images: the result\'s files; video and music: the priced duration (fal reports no length)',
    submit,
    status,
    cancel,
    readCallback: (_channel: ChannelAccess, callback: ProviderCallback) => readFalCallback(callback),
  };
}
