/** Our MediaRequest into OpenAI bodies, and OpenAI answers into ProviderJobs. */
import { clip, scrub, withoutPriced } from '../http';
import type { MediaRequest, ProviderJob, ProviderOutput } from '../types';
import type { ImagesResponse, VideoJob } from './dto';
import { isInfraFailure, isPolicy } from './errors';

/** Prefix of the ids we make for synchronous image generations (OpenAI gives them none). */
export const IMAGE_JOB_PREFIX = 'img_';

/**
 * Body fields that decide OpenAI's price or model: `n`, `size`, `quality` (images), `seconds`, `size`
 * (videos). Written from the priced request after the consumer's options.
 */
export const OPENAI_PRICED_KEYS = ['model', 'n', 'size', 'quality', 'seconds'] as const;

/** `POST /images/generations` body: the free-form options, then `{model, prompt, n, size?, quality?}`. */
export function imageBody(request: MediaRequest): Record<string, unknown> {
  return {
    ...withoutPriced(request.options, OPENAI_PRICED_KEYS),
    model: request.model,
    prompt: request.prompt,
    n: request.n ?? 1,
    ...(request.size !== undefined ? { size: request.size } : {}),
    ...(request.quality !== undefined ? { quality: request.quality } : {}),
  };
}

/**
 * `POST /videos` JSON body: `{model, prompt, seconds, size, input_reference?}`. `seconds` goes as a string
 * (the API's type); `size` is `request.size`, else derived from resolution + aspect ratio (see videoSize).
 */
export function videoBody(request: MediaRequest): Record<string, unknown> {
  const size = request.size ?? videoSize(request.resolution, request.aspectRatio);
  const image = request.references.imageUrl ?? request.references.imageUrls?.[0];
  return {
    ...withoutPriced(request.options, OPENAI_PRICED_KEYS),
    model: request.model,
    prompt: request.prompt,
    ...(request.duration !== undefined ? { seconds: String(request.duration) } : {}),
    ...(size !== undefined ? { size } : {}),
    ...(image !== undefined ? { input_reference: { image_url: image } } : {}),
  };
}

/**
 * The Sora size for a resolution and aspect ratio: 720p gives 1280x720 / 720x1280, 1080p (or 1024p)
 * gives 1792x1024 / 1024x1792; an aspect ratio alone means 720p; anything else is left to the default.
 */
export function videoSize(resolution: string | undefined, aspectRatio: string | undefined): string | undefined {
  if (resolution === undefined && aspectRatio === undefined) return undefined;
  const portrait = aspectRatio === '9:16';
  const landscape = aspectRatio === undefined || aspectRatio === '16:9';
  if (!portrait && !landscape) return undefined;
  const res = (resolution ?? '720p').toLowerCase();
  if (res === '720p') return portrait ? '720x1280' : '1280x720';
  if (res === '1080p' || res === '1024p') return portrait ? '1024x1792' : '1792x1024';
  return undefined;
}

/** A synchronous image answer as a job that is already final. */
export function imageJob(jobId: string, body: ImagesResponse, request: MediaRequest): ProviderJob {
  const format = body.output_format ?? str(request.options.output_format) ?? 'png';
  const fallbackType = `image/${format === 'jpg' ? 'jpeg' : format}`;
  const outputs: ProviderOutput[] = [];
  for (const item of body.data) {
    if (item.b64_json) outputs.push({ base64: item.b64_json, contentType: fallbackType });
    else if (item.url) outputs.push({ url: item.url, contentType: fallbackType });
  }
  const tokens = body.usage?.total_tokens ?? undefined;
  return {
    jobId,
    status: 'succeeded',
    progress: 100,
    outputs,
    usage: { images: outputs.length, ...(tokens !== undefined ? { tokens } : {}) },
  };
}

/** A video job as a ProviderJob; `contentUrl` is where `GET /videos/{id}/content` lives. */
export function videoJob(
  video: VideoJob,
  request: MediaRequest,
  contentUrl: string,
  secrets: readonly string[],
): ProviderJob | undefined {
  const progress = video.progress ?? null;
  const base = { jobId: video.id, outputs: [] as ProviderOutput[] };
  switch (video.status) {
    case 'queued':
      return { ...base, status: 'queued', progress };
    case 'in_progress':
      return { ...base, status: 'processing', progress };
    case 'completed': {
      const seconds = Number(video.seconds ?? request.duration);
      return {
        ...base,
        status: 'succeeded',
        progress: 100,
        outputs: [{ url: contentUrl, contentType: 'video/mp4' }],
        usage: Number.isFinite(seconds) ? { seconds } : {},
      };
    }
    case 'failed': {
      const code = video.error?.code ?? undefined;
      const said = video.error?.message ?? 'no message';
      const policy = isPolicy(code, video.error?.message ?? undefined);
      return {
        ...base,
        status: 'failed',
        progress,
        error: {
          code: policy ? 'content_policy_violation' : 'job_failed',
          retryable: policy ? false : isInfraFailure(code),
          providerCode: code,
          message: clip(scrub(`openai video ${video.id} failed${code ? ` (${code})` : ''}: ${said}`, secrets)),
        },
      };
    }
    default:
      return undefined;
  }
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
