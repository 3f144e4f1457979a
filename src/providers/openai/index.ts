/**
 * `openai` adapter (OpenAI and OpenAI-compatible upstreams): synchronous images
 * (`POST /images/generations`) and video jobs (`POST /videos`, poll `GET /videos/{id}`, bytes from the
 * authenticated `GET /videos/{id}/content`). Plain HTTP against `channel.baseUrl` (`.../v1`); never retries.
 */
import { Readable } from 'node:stream';
import { badResponse, bearerCalls, joinUrl, parseBody, parseChannelSettings, sendOk } from '../http';
import {
  ProviderError,
  type CancelOutcome,
  type ChannelAccess,
  type JobRef,
  type MediaProvider,
  type MediaRequest,
  type OpenedOutput,
  type OutputRequest,
  type ProviderJob,
  type ProviderOutput,
  type SubmitContext,
} from '../types';
import { ImagesResponse, OpenAISettings, VideoJob } from './dto';
import { readOpenAIError } from './errors';
import { IMAGE_JOB_PREFIX, OPENAI_PRICED_KEYS, imageBody, imageJob, videoBody, videoJob } from './mapping';

const PROVIDER = 'openai';

export { OpenAISettings } from './dto';

/** Creates the `openai` media provider (image, video). */
export function createOpenAIProvider(): MediaProvider {
  const call = bearerCalls(PROVIDER, OpenAISettings, (settings) => ({
    ...(settings.organization ? { 'openai-organization': settings.organization } : {}),
    ...(settings.project ? { 'openai-project': settings.project } : {}),
  }));

  function contentUrl(channel: ChannelAccess, videoId: string): string {
    return joinUrl(channel.baseUrl, `videos/${encodeURIComponent(videoId)}/content`);
  }

  async function submit(channel: ChannelAccess, request: MediaRequest, ctx: SubmitContext): Promise<ProviderJob> {
    if (request.kind === 'image') {
      const c = call(channel, 'submit', 'POST', 'images/generations', imageBody(request));
      const reply = await sendOk(c, readOpenAIError);
      const body = parseBody(c, reply, ImagesResponse);
      const job = imageJob(`${IMAGE_JOB_PREFIX}${ctx.taskId}_${ctx.attempt}`, body, request);
      if (job.outputs.length === 0) throw badResponse(c, 'image generation returned no images', reply.status);
      return job;
    }
    if (request.kind === 'video') {
      const c = call(channel, 'submit', 'POST', 'videos', videoBody(request));
      const reply = await sendOk(c, readOpenAIError);
      const video = parseBody(c, reply, VideoJob);
      const job = videoJob(video, request, contentUrl(channel, video.id), c.secrets);
      if (!job) throw badResponse(c, `unknown video status "${video.status}"`, reply.status);
      return job;
    }
    throw new ProviderError({ code: 'invalid_request', retryable: false, message: `openai does not serve ${request.kind}` });
  }

  /**
   * Image generations are synchronous: submit already returned the final job with its outputs, and nothing
   * upstream can be asked again, so status() of an `img_...` job throws a non-retryable `not_found`.
   */
  async function status(channel: ChannelAccess, job: JobRef): Promise<ProviderJob> {
    if (job.jobId.startsWith(IMAGE_JOB_PREFIX)) {
      throw new ProviderError({
        code: 'not_found',
        retryable: false,
        message: `openai image job ${job.jobId} was final at submit; image generations have nothing to poll`,
      });
    }
    const c = call(channel, 'status', 'GET', `videos/${encodeURIComponent(job.jobId)}`);
    const reply = await sendOk(c, readOpenAIError, { notFoundCode: 'not_found' });
    const video = parseBody(c, reply, VideoJob);
    const mapped = videoJob(video, job.request, contentUrl(channel, video.id), c.secrets);
    if (!mapped) throw badResponse(c, `unknown video status "${video.status}"`, reply.status);
    return mapped;
  }

  /** OpenAI has no cancel: a video job runs to the end; an image job was finished at submit. */
  async function cancel(_channel: ChannelAccess, job: JobRef): Promise<CancelOutcome> {
    return job.jobId.startsWith(IMAGE_JOB_PREFIX) ? 'already_finished' : 'not_cancellable';
  }

  /**
   * Inline images are decoded; image URLs are pre-signed, need no key and may be on any host: null hands
   * them to the gateway's guarded download. Video content is `GET /videos/{id}/content` with the
   * channel's key, which the gateway makes (guarded redirects, the key never sent to another origin).
   */
  async function openOutput(channel: ChannelAccess, job: JobRef, output: ProviderOutput): Promise<OpenedOutput | { request: OutputRequest } | null> {
    if (output.base64 !== undefined) {
      return { body: Readable.from(Buffer.from(output.base64, 'base64')), contentType: output.contentType ?? 'image/png' };
    }
    if (job.jobId.startsWith(IMAGE_JOB_PREFIX)) {
      if (!output.url) throw new ProviderError({ code: 'bad_response', retryable: false, message: 'openai output has neither url nor base64' });
      return null;
    }
    const settings = parseChannelSettings(PROVIDER, OpenAISettings, channel);
    const c = call(channel, 'output', 'GET', `videos/${encodeURIComponent(job.jobId)}/content`);
    return { request: { url: c.url, headers: { ...c.headers!, accept: 'application/binary' }, timeoutMs: settings.outputTimeoutMs } };
  }

  return {
    id: PROVIDER,
    kinds: ['image', 'video'],
    pricedKeys: OPENAI_PRICED_KEYS,
    deliveredFrom: 'images: the files in `data`; videos: the job\'s `seconds`',
    submit,
    status,
    cancel,
    openOutput,
  };
}
