/** Our MediaRequest into Runway task bodies, and Runway tasks into ProviderJobs. */
import { clip, scrub, withoutPriced } from '../http';
import type { MediaRequest, ProviderJob } from '../types';
import type { RunwayTask } from './dto';
import { isRunwayInfraFailure, isRunwayPolicy } from './errors';

/**
 * Body fields that decide Runway's price or model: credits per second × `model` × `duration`, `audio` for
 * the Veo models ("audio inclusion affects pricing"), `outputCount` for the image models that make 4.
 */
export const RUNWAY_PRICED_KEYS = ['model', 'duration', 'audio', 'outputCount'] as const;

/** Our aspect ratios in Runway's pixel spelling (video and image sizes differ). */
const VIDEO_RATIOS: Record<string, string> = { '16:9': '1280:720', '9:16': '720:1280', '1:1': '960:960', '4:3': '1104:832', '3:4': '832:1104', '21:9': '1584:672' };
const IMAGE_RATIOS: Record<string, string> = { '16:9': '1920:1080', '9:16': '1080:1920', '1:1': '1024:1024', '4:3': '1440:1080', '3:4': '1080:1440', '21:9': '2112:912' };

/** `1280x720` or `1280:720` as Runway's `1280:720`; `16:9` through the kind's table; undefined when unset. */
function ratio(request: MediaRequest): string | undefined {
  const size = request.size ?? request.aspectRatio;
  if (size === undefined) return undefined;
  const pixels = /^(\d{3,4})[x:*](\d{3,4})$/.exec(size);
  if (pixels) return `${pixels[1]}:${pixels[2]}`;
  return (request.kind === 'image' ? IMAGE_RATIOS : VIDEO_RATIOS)[size] ?? size;
}

/** The endpoint and body of one Runway task. */
export interface RunwayCreate {
  path: 'image_to_video' | 'text_to_video' | 'text_to_image';
  body: Record<string, unknown>;
}

/**
 * Video: with a first frame → `image_to_video` (`promptImage`: the URL, or `[{uri, position}]` when a last
 * frame is given too), else `text_to_video`. Image: `text_to_image` with `referenceImages` from `imageUrls`.
 * The options (without priced keys) first, then `model`, `promptText`, `ratio`, `duration`, `seed`.
 */
export function createBody(request: MediaRequest): RunwayCreate {
  const refs = request.references;
  const common = {
    ...withoutPriced(request.options, RUNWAY_PRICED_KEYS),
    model: request.model,
    ...(request.prompt ? { promptText: request.prompt } : {}),
    ...(ratio(request) !== undefined ? { ratio: ratio(request) } : {}),
    ...(request.seed !== undefined ? { seed: request.seed } : {}),
  };
  if (request.kind === 'image') {
    const references = (refs.imageUrls ?? (refs.imageUrl ? [refs.imageUrl] : [])).map((uri, i) => ({ uri, tag: `ref${i + 1}` }));
    return { path: 'text_to_image', body: { ...common, ...(references.length > 0 ? { referenceImages: references } : {}) } };
  }
  const duration = request.duration !== undefined ? { duration: request.duration } : {};
  if (!refs.imageUrl) return { path: 'text_to_video', body: { ...common, ...duration } };
  const promptImage = refs.lastFrameUrl
    ? [{ uri: refs.imageUrl, position: 'first' }, { uri: refs.lastFrameUrl, position: 'last' }]
    : refs.imageUrl;
  return { path: 'image_to_video', body: { ...common, promptImage, ...duration } };
}

/**
 * Runway statuses: PENDING and THROTTLED (waiting for a concurrency slot) → queued, RUNNING → processing
 * (progress 0..1 as 0..100), SUCCEEDED → the `output` URLs, FAILED → failed by `failureCode`, CANCELLED.
 * Runway never reports the length made: usage is the requested duration (what it bills).
 */
export function taskJob(task: RunwayTask, request: MediaRequest, secrets: readonly string[]): ProviderJob | undefined {
  const base = { jobId: task.id, progress: null, outputs: [] };
  switch (task.status) {
    case 'PENDING':
    case 'THROTTLED':
      return { ...base, status: 'queued', progress: 0 };
    case 'RUNNING': {
      const p = task.progress;
      return { ...base, status: 'processing', progress: typeof p === 'number' ? Math.max(0, Math.min(100, Math.round(p * 100))) : null };
    }
    case 'CANCELLED':
      return { ...base, status: 'cancelled' };
    case 'SUCCEEDED': {
      const urls = task.output ?? [];
      if (urls.length === 0) {
        return { ...base, status: 'failed', error: { code: 'job_failed', retryable: true, message: `runway task ${task.id} succeeded without an output` } };
      }
      const contentType = request.kind === 'image' ? 'image/png' : 'video/mp4';
      const usage = request.kind === 'image' ? { images: urls.length } : request.duration !== undefined ? { seconds: request.duration } : {};
      return { ...base, status: 'succeeded', progress: 100, outputs: urls.map((url) => ({ url, contentType })), usage };
    }
    case 'FAILED': {
      const code = task.failureCode ?? undefined;
      const policy = isRunwayPolicy(code);
      return {
        ...base,
        status: 'failed',
        error: {
          code: policy ? 'content_policy_violation' : 'job_failed',
          retryable: !policy && isRunwayInfraFailure(code),
          providerCode: code,
          message: clip(scrub(`runway task ${task.id} failed${code ? ` (${code})` : ''}: ${task.failure ?? 'no message'}`, secrets)),
        },
      };
    }
    default:
      return undefined;
  }
}
