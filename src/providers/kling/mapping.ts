/** Our MediaRequest into Kling task bodies, and Kling tasks into ProviderJobs. */
import { clip, guessContentType, scrub, withoutPriced } from '../http';
import { ProviderError, type MediaRequest, type ProviderJob, type ProviderOutput } from '../types';
import type { KlingTask } from './dto';
import { classifyTaskFailure } from './errors';

/**
 * Fields that decide Kling's price or model: `model_name` (and the legacy `model`), `mode` (std/pro),
 * `duration`, `sound`, and for images `n` and `resolution`. Written from the priced request after options.
 */
export const KLING_PRICED_KEYS = ['model_name', 'model', 'mode', 'duration', 'sound', 'n', 'resolution'] as const;

/** The task endpoints, by what the request asks; a task is read back from the one that created it. */
export const KLING_ENDPOINTS = ['v1/videos/text2video', 'v1/videos/image2video', 'v1/images/generations'] as const;
export type KlingEndpoint = (typeof KLING_ENDPOINTS)[number];

export function endpointFor(request: MediaRequest): KlingEndpoint {
  if (request.kind === 'image') return 'v1/images/generations';
  return request.references.imageUrl ? 'v1/videos/image2video' : 'v1/videos/text2video';
}

/**
 * Kling's `mode`: the request's `quality` when it is `std` or `pro`, else its `resolution` (720p is std,
 * 1080p pro); neither leaves Kling's default (std). Anything else can't be honoured as priced: refused.
 */
function videoMode(request: MediaRequest): 'std' | 'pro' | undefined {
  if (request.quality !== undefined) {
    if (request.quality === 'std' || request.quality === 'pro') return request.quality;
    throw refuse(`quality "${request.quality}" (Kling video takes std or pro)`);
  }
  if (request.resolution === undefined) return undefined;
  if (request.resolution === '720p') return 'std';
  if (request.resolution === '1080p') return 'pro';
  throw refuse(`resolution "${request.resolution}" (Kling video takes 720p or 1080p)`);
}

/** Kling images: `resolution` 1k or 2k. */
function imageResolution(request: MediaRequest): '1k' | '2k' | undefined {
  if (request.resolution === undefined) return undefined;
  const value = request.resolution.toLowerCase();
  if (value === '1k' || value === '2k') return value;
  throw refuse(`resolution "${request.resolution}" (Kling images take 1k or 2k)`);
}

function refuse(what: string): ProviderError {
  return new ProviderError({ code: 'invalid_request', retryable: false, message: `kling cannot serve ${what}` });
}

/**
 * Video: options without priced keys, then `model_name`, `prompt`, `image`/`image_tail` (image to video,
 * which follows the image's ratio) or `aspect_ratio`, `mode`, `duration` as a STRING, `callback_url`.
 * Image: `model_name`, `prompt`, `image` (a reference), `aspect_ratio`, `resolution`, `n`, `callback_url`.
 */
export function taskBody(request: MediaRequest, callbackUrl: string | undefined): Record<string, unknown> {
  const refs = request.references;
  const common = {
    // The callback URL is the gateway's to choose (ours, or none): a consumer's never reaches the provider.
    ...withoutPriced(request.options, [...KLING_PRICED_KEYS, 'callback_url']),
    model_name: request.model,
    ...(request.prompt ? { prompt: request.prompt } : {}),
    ...(callbackUrl !== undefined ? { callback_url: callbackUrl } : {}),
  };
  if (request.kind === 'image') {
    const resolution = imageResolution(request);
    return {
      ...common,
      ...(refs.imageUrl ? { image: refs.imageUrl } : {}),
      ...(request.aspectRatio !== undefined ? { aspect_ratio: request.aspectRatio } : {}),
      ...(resolution !== undefined ? { resolution } : {}),
      n: request.n ?? 1,
    };
  }
  const mode = videoMode(request);
  return {
    ...common,
    ...(refs.imageUrl ? { image: refs.imageUrl, ...(refs.lastFrameUrl ? { image_tail: refs.lastFrameUrl } : {}) } : {}),
    ...(!refs.imageUrl && request.aspectRatio !== undefined ? { aspect_ratio: request.aspectRatio } : {}),
    ...(mode !== undefined ? { mode } : {}),
    ...(request.duration !== undefined ? { duration: String(request.duration) } : {}),
  };
}

/**
 * submitted → queued, processing → processing, succeed → succeeded, failed → failed (its
 * `task_status_msg` classified). Usage: the videos' own `duration` strings (rounded seconds), or the count
 * of images. Unknown statuses → undefined.
 */
export function taskJob(task: KlingTask, request: MediaRequest, handles: Record<string, string>, secrets: readonly string[]): ProviderJob | undefined {
  const base = { jobId: task.task_id, progress: null, outputs: [], handles };
  switch (task.task_status) {
    case 'submitted':
      return { ...base, status: 'queued' };
    case 'processing':
      return { ...base, status: 'processing' };
    case 'succeed':
      return succeeded(task, request, base);
    case 'failed': {
      const reason = task.task_status_msg || 'no reason given';
      return {
        ...base,
        status: 'failed',
        error: { ...classifyTaskFailure(reason), message: clip(scrub(`kling task ${task.task_id} failed: ${reason}`, secrets)) },
      };
    }
    default:
      return undefined;
  }
}

function succeeded(task: KlingTask, request: MediaRequest, base: Omit<ProviderJob, 'status'>): ProviderJob {
  const files = (request.kind === 'image' ? task.task_result?.images : task.task_result?.videos) ?? [];
  const outputs: ProviderOutput[] = [];
  let seconds = 0;
  for (const file of files) {
    if (!file.url) continue;
    outputs.push({ url: file.url, contentType: request.kind === 'image' ? (guessContentType(file.url) ?? 'image/png') : 'video/mp4' });
    const length = Number(file.duration);
    if (Number.isFinite(length) && length > 0) seconds += length;
  }
  if (outputs.length === 0) {
    return { ...base, status: 'failed', error: { code: 'job_failed', retryable: false, message: `kling task ${task.task_id} succeeded without any file` } };
  }
  const usage = request.kind === 'image' ? { images: outputs.length } : seconds > 0 ? { seconds: Math.round(seconds) } : {};
  return { ...base, status: 'succeeded', progress: 100, outputs, usage };
}
