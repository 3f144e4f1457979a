/**
 * `minimax` adapter (MiniMax: Hailuo video, music). Video: `POST /v1/video_generation`, poll
 * `GET /v1/query/video_generation?task_id=`, then `GET /v1/files/retrieve?file_id=` for the download URL.
 * Music: `POST /v1/music_generation`, synchronous, the audio inline as hex. Errors arrive as a non-zero
 * `base_resp.status_code`, usually inside HTTP 200. Plain HTTP against `channel.baseUrl`
 * (`https://api.minimax.io` or `https://api.minimaxi.com`); never retries.
 */
import { Readable } from 'node:stream';
import type { z } from 'zod';
import { badResponse, bearerCalls, errorFromReply, isRecord, parseBody, parseChannelSettings, retryAfterMs, send, type HttpCall } from '../http';
import {
  ProviderError,
  type CancelOutcome,
  type ChannelAccess,
  type JobRef,
  type MediaProvider,
  type MediaRequest,
  type OpenedOutput,
  type OutputRequest,
  type ProviderCallback,
  type ProviderCallbackResult,
  type ProviderJob,
  type ProviderOutput,
  type SubmitContext,
} from '../types';
import { CreatedVideo, MiniMaxSettings, MusicAnswer, RetrievedFile, VideoQuery, WithBaseResp } from './dto';
import { miniMaxError } from './errors';
import {
  MINIMAX_PRICED_KEYS,
  MUSIC_JOB_PREFIX,
  failedVideo,
  musicBody,
  musicFormat,
  musicJob,
  queryStatus,
  videoBody,
  videoSeconds,
} from './mapping';

const PROVIDER = 'minimax';

export { MiniMaxSettings } from './dto';

/** Creates the `minimax` media provider (video, music). */
export function createMiniMaxProvider(): MediaProvider {
  const call = bearerCalls(PROVIDER, MiniMaxSettings);

  /**
   * One call whose answer carries `base_resp`: a non-zero `status_code` is the error, in HTTP 200 or not
   * (unless `tolerated` says the body is a result that reports a failure, as a `Fail` task does).
   */
  async function ask<S extends z.ZodType>(c: HttpCall, schema: S, tolerated?: (body: unknown) => boolean): Promise<z.output<S>> {
    const reply = await send(c);
    let body: unknown;
    try {
      body = JSON.parse(reply.text);
    } catch {
      body = undefined;
    }
    const base = WithBaseResp.safeParse(body).data?.base_resp ?? undefined;
    const failed = base !== undefined && base.status_code !== 0;
    const ok = reply.status >= 200 && reply.status <= 299;
    if (failed && !(ok && tolerated?.(body))) {
      throw new ProviderError(miniMaxError(c.operation, base, c.secrets, { httpStatus: reply.status, retryAfterMs: retryAfterMs(reply.headers) }));
    }
    if (!ok) throw errorFromReply(c, reply, () => ({}), { notFoundCode: 'not_found' });
    return parseBody(c, reply, schema);
  }

  async function submit(channel: ChannelAccess, request: MediaRequest, ctx: SubmitContext): Promise<ProviderJob> {
    if (request.kind === 'video') {
      const c = call(channel, 'submit', 'POST', 'v1/video_generation', videoBody(request, ctx.callbackUrl));
      const created = await ask(c, CreatedVideo);
      return { jobId: created.task_id, status: 'queued', progress: null, outputs: [] };
    }
    if (request.kind === 'music') {
      const body = musicBody(request);
      const c = call(channel, 'submit', 'POST', 'v1/music_generation', body);
      const answer = await ask(c, MusicAnswer);
      const job = musicJob(`${MUSIC_JOB_PREFIX}${ctx.taskId}_${ctx.attempt}`, answer, musicFormat(body));
      if (typeof job === 'string') throw badResponse(c, job, 200);
      return job;
    }
    throw new ProviderError({ code: 'invalid_request', retryable: false, message: `minimax does not serve ${request.kind}` });
  }

  async function retrieveFile(channel: ChannelAccess, fileId: string, operation: string): Promise<string> {
    const c = call(channel, operation, 'GET', `v1/files/retrieve?file_id=${encodeURIComponent(fileId)}`);
    const file = await ask(c, RetrievedFile);
    return file.file.download_url;
  }

  /** Music was final at submit; a video task is queried, and once `Success` its file is retrieved. */
  async function status(channel: ChannelAccess, job: JobRef): Promise<ProviderJob> {
    if (job.jobId.startsWith(MUSIC_JOB_PREFIX)) {
      throw new ProviderError({ code: 'not_found', retryable: false, message: `minimax music job ${job.jobId} was final at submit; there is nothing to poll` });
    }
    const c = call(channel, 'status', 'GET', `v1/query/video_generation?task_id=${encodeURIComponent(job.jobId)}`);
    const query = await ask(c, VideoQuery, (body) => isRecord(body) && typeof body.status === 'string' && queryStatus({ status: body.status }) === 'failed');
    const base = { jobId: job.jobId, progress: null, outputs: [] };
    const state = queryStatus(query);
    if (state === undefined) throw badResponse(c, `unknown task status "${query.status}"`, 200);
    if (state === 'failed') return { ...base, status: 'failed', error: failedVideo(job.jobId, query, c.secrets) };
    if (state !== 'succeeded') return { ...base, status: state };
    const fileId = query.file_id === null || query.file_id === undefined ? '' : String(query.file_id);
    if (!fileId) throw badResponse(c, `task ${job.jobId} is Success without a file_id`, 200);
    const url = await retrieveFile(channel, fileId, 'status');
    return {
      ...base,
      status: 'succeeded',
      progress: 100,
      outputs: [{ url, contentType: 'video/mp4' }],
      usage: { seconds: videoSeconds(job.request) },
      handles: { fileId },
    };
  }

  /** MiniMax documents no cancel: a video runs to the end; music was finished at submit. */
  async function cancel(_channel: ChannelAccess, job: JobRef): Promise<CancelOutcome> {
    return job.jobId.startsWith(MUSIC_JOB_PREFIX) ? 'already_finished' : 'not_cancellable';
  }

  /**
   * Download URLs expire (hours), so a video is downloaded from a fresh `files/retrieve` of its file id (an
   * API call with the key); the link itself is a pre-signed CDN URL on another host, which the gateway gets
   * without the key, guarded. Inline music is decoded.
   */
  async function openOutput(channel: ChannelAccess, job: JobRef, output: ProviderOutput): Promise<OpenedOutput | { request: OutputRequest } | null> {
    if (output.base64 !== undefined) {
      return { body: Readable.from(Buffer.from(output.base64, 'base64')), contentType: output.contentType ?? 'audio/mpeg' };
    }
    const fileId = job.handles?.fileId;
    if (!fileId) {
      if (!output.url) throw new ProviderError({ code: 'bad_response', retryable: false, message: 'minimax output has neither url nor file id' });
      return null;
    }
    const settings = parseChannelSettings(PROVIDER, MiniMaxSettings, channel);
    const url = await retrieveFile(channel, fileId, 'output');
    return { request: { url, headers: { accept: '*/*' }, timeoutMs: settings.outputTimeoutMs } };
  }

  /**
   * MiniMax first POSTs `{"challenge": "..."}`, which must be echoed within 3 s; then it pushes the query
   * body at each status change. It signs nothing, so our per-job token is the only check.
   */
  function readCallback(_channel: ChannelAccess, callback: ProviderCallback): ProviderCallbackResult {
    let body: unknown;
    try {
      body = JSON.parse(callback.rawBody.toString('utf8'));
    } catch {
      body = undefined;
    }
    if (isRecord(body) && typeof body.challenge === 'string' && body.challenge.length > 0 && body.challenge.length <= 512) {
      return { kind: 'challenge', reply: { challenge: body.challenge } };
    }
    const taskId = isRecord(body) ? body.task_id : undefined;
    const validId = (typeof taskId === 'string' && /^[A-Za-z0-9_-]{1,128}$/.test(taskId)) || (typeof taskId === 'number' && Number.isSafeInteger(taskId));
    if (isRecord(body) && validId && typeof body.status === 'string') return { kind: 'job-update', jobId: String(taskId) };
    throw new ProviderError({ code: 'invalid_request', retryable: false, message: 'minimax callback is neither a challenge nor a task status' });
  }

  return {
    id: PROVIDER,
    kinds: ['video', 'music'],
    pricedKeys: MINIMAX_PRICED_KEYS,
    deliveredFrom: 'video: the priced `duration` (the query reports no length); music: `extra_info.music_duration` (ms)',
    submit,
    status,
    cancel,
    openOutput,
    readCallback,
  };
}
