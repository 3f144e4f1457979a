/**
 * `kling` adapter (Kling AI): text/image to video (`POST /v1/videos/text2video|image2video`) and image
 * generation (`POST /v1/images/generations`), each polled with `GET {endpoint}/{task_id}`. Auth: a JWT
 * (HS256) signed from the channel's access key and secret key, fresh for every call. Every answer is an
 * envelope `{code, message, data}` classified by `code`. No cancel in the protocol. Never retries.
 */
import { badResponse, errorFromReply, joinUrl, parseBody, parseChannelSettings, retryAfterMs, send, type HttpCall, type HttpReply } from '../http';
import {
  ProviderError,
  type CancelOutcome,
  type ChannelAccess,
  type JobRef,
  type MediaProvider,
  type MediaRequest,
  type ProviderCallback,
  type ProviderCallbackResult,
  type ProviderJob,
  type SubmitContext,
} from '../types';
import { klingKeys, klingToken } from './auth';
import { KlingEnvelope, KlingSettings, KlingTask } from './dto';
import { klingError } from './errors';
import { KLING_ENDPOINTS, KLING_PRICED_KEYS, endpointFor, taskBody, taskJob, type KlingEndpoint } from './mapping';

const PROVIDER = 'kling';
/** Task ids are long decimal numbers; anything else is never put in a URL. */
const TASK_ID = /^[A-Za-z0-9_-]{1,128}$/;

export { KlingSettings } from './dto';

/** Creates the `kling` media provider (video, image). */
export function createKlingProvider(): MediaProvider {
  function call(channel: ChannelAccess, operation: string, method: HttpCall['method'], path: string, json?: unknown): HttpCall {
    const settings = parseChannelSettings(PROVIDER, KlingSettings, channel);
    const token = klingToken(klingKeys(channel), settings.tokenTtlSeconds);
    return {
      provider: PROVIDER,
      operation,
      method,
      url: joinUrl(channel.baseUrl, path),
      headers: { authorization: `Bearer ${token}` },
      json,
      timeoutMs: settings.timeoutMs,
      secrets: [channel.apiKey, token],
    };
  }

  /** One call whose envelope says `code: 0`; any other code (inside HTTP 200 too) is classified and thrown. */
  async function sendKling(c: HttpCall): Promise<HttpReply> {
    const reply = await send(c);
    // A task that is not there (404) is `not_found` when read back; at submit a 404 is an unknown model.
    const notFound = c.operation !== 'submit' && reply.status === 404;
    const refused = klingError(c.operation, reply, c.secrets, retryAfterMs(reply.headers));
    if (refused) throw notFound ? new ProviderError({ ...refused.toInfo(), code: 'not_found', retryable: false }) : refused;
    if (reply.status < 200 || reply.status > 299) throw errorFromReply(c, reply, () => ({}), { notFoundCode: notFound ? 'not_found' : 'invalid_request' });
    return reply;
  }

  function taskOf(c: HttpCall, reply: HttpReply): KlingTask {
    const envelope = parseBody(c, reply, KlingEnvelope);
    const task = KlingTask.safeParse(envelope.data);
    if (!task.success) throw badResponse(c, `data is not a task: ${task.error.issues.map((i) => `${i.path.join('.') || '(data)'}: ${i.message}`).join('; ')}`, reply.status);
    return task.data;
  }

  async function submit(channel: ChannelAccess, request: MediaRequest, ctx: SubmitContext): Promise<ProviderJob> {
    if (request.kind !== 'video' && request.kind !== 'image') {
      throw new ProviderError({ code: 'invalid_request', retryable: false, message: `kling does not serve ${request.kind}` });
    }
    const endpoint = endpointFor(request);
    const c = call(channel, 'submit', 'POST', endpoint, taskBody(request, ctx.callbackUrl));
    const reply = await sendKling(c);
    const task = taskOf(c, reply);
    if (!TASK_ID.test(task.task_id)) throw badResponse(c, `task_id "${task.task_id}" is not an id`, reply.status);
    const job = taskJob(task, request, { endpoint }, c.secrets);
    if (!job) throw badResponse(c, `unknown task_status "${task.task_status}"`, reply.status);
    return job;
  }

  async function status(channel: ChannelAccess, job: JobRef): Promise<ProviderJob> {
    const endpoint = (KLING_ENDPOINTS as readonly string[]).includes(job.handles?.endpoint ?? '')
      ? (job.handles!.endpoint as KlingEndpoint)
      : endpointFor(job.request);
    if (!TASK_ID.test(job.jobId)) throw new ProviderError({ code: 'not_found', retryable: false, message: `kling task id "${job.jobId}" is not an id` });
    const c = call(channel, 'status', 'GET', `${endpoint}/${encodeURIComponent(job.jobId)}`);
    const reply = await sendKling(c);
    const task = taskOf(c, reply);
    const mapped = taskJob(task, job.request, { endpoint }, c.secrets);
    if (!mapped) throw badResponse(c, `unknown task_status "${task.task_status}"`, reply.status);
    return mapped;
  }

  /** Kling cannot stop a task: it runs to the end and is billed. */
  async function cancel(channel: ChannelAccess, job: JobRef): Promise<CancelOutcome> {
    const now = await status(channel, job);
    return now.status === 'queued' || now.status === 'processing' ? 'not_cancellable' : 'already_finished';
  }

  /**
   * Kling POSTs the bare task object on every status change, unsigned (our per-job token is the only
   * proof): a body that is no task is refused; a task is news for the workflow, which then reads it.
   */
  function readCallback(_channel: ChannelAccess, callback: ProviderCallback): ProviderCallbackResult {
    let body: unknown;
    try {
      body = JSON.parse(callback.rawBody.toString('utf8'));
    } catch {
      throw new ProviderError({ code: 'invalid_request', retryable: false, message: 'kling callback: the body is not JSON' });
    }
    const task = KlingTask.safeParse(body);
    if (!task.success || !TASK_ID.test(task.data.task_id)) {
      throw new ProviderError({ code: 'invalid_request', retryable: false, message: 'kling callback: the body is not a Kling task' });
    }
    return { kind: 'job-update', jobId: task.data.task_id };
  }

  return {
    id: PROVIDER,
    kinds: ['video', 'image'],
    pricedKeys: KLING_PRICED_KEYS,
    deliveredFrom: 'videos: `task_result.videos[].duration` (seconds made); images: the files in `task_result.images`',
    submit,
    status,
    cancel,
    readCallback,
  };
}
