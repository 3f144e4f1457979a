/** Our MediaRequest into DashScope (Wan) task bodies, and DashScope tasks into ProviderJobs. */
import { clip, scrub, withoutPriced } from '../http';
import type { MediaRequest, ProviderJob } from '../types';
import type { DashScopeTask } from './dto';
import { isDashScopeInfraFailure, isDashScopePolicy } from './errors';

/**
 * Fields that decide DashScope's price or model: `model`, and in `parameters` the video `duration`, the
 * t2v `size` and i2v `resolution` tiers and the image count `n`. Written from the priced request after the options.
 */
export const DASHSCOPE_PRICED_KEYS = ['model', 'duration', 'size', 'resolution', 'n'] as const;
/** Options that belong in `input` rather than `parameters`. */
const INPUT_OPTIONS = new Set(['negative_prompt']);

export const VIDEO_PATH = 'services/aigc/video-generation/video-synthesis';
export const IMAGE_PATH = 'services/aigc/text2image/image-synthesis';

/** Splits the consumer's options (priced keys removed) into `input` and `parameters` members. */
function splitOptions(options: Record<string, unknown>): { input: Record<string, unknown>; parameters: Record<string, unknown> } {
  const input: Record<string, unknown> = {};
  const parameters: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(withoutPriced(options, DASHSCOPE_PRICED_KEYS))) {
    (INPUT_OPTIONS.has(key) ? input : parameters)[key] = value;
  }
  return { input, parameters };
}

/** `1280x720` (or `1280*720`) in DashScope's spelling, `1280*720`. */
function dashSize(size: string): string {
  return size.replace(/[xX×]/, '*');
}

/**
 * `{model, input:{prompt, img_url | first_frame_url + last_frame_url, audio_url}, parameters:{...options,
 * size, resolution, duration, seed}}`. With a last frame the first image goes as `first_frame_url`.
 */
export function videoBody(request: MediaRequest): Record<string, unknown> {
  const refs = request.references;
  const { input, parameters } = splitOptions(request.options);
  const frames = refs.lastFrameUrl
    ? { ...(refs.imageUrl ? { first_frame_url: refs.imageUrl } : {}), last_frame_url: refs.lastFrameUrl }
    : refs.imageUrl
      ? { img_url: refs.imageUrl }
      : {};
  return {
    model: request.model,
    input: { ...input, prompt: request.prompt, ...frames, ...(refs.audioUrl ? { audio_url: refs.audioUrl } : {}) },
    parameters: {
      ...parameters,
      ...(request.size !== undefined ? { size: dashSize(request.size) } : {}),
      ...(request.resolution !== undefined ? { resolution: request.resolution.toUpperCase() } : {}),
      ...(request.duration !== undefined ? { duration: request.duration } : {}),
      ...(request.seed !== undefined ? { seed: request.seed } : {}),
    },
  };
}

/** `{model, input:{prompt}, parameters:{...options, size, n, seed}}`. */
export function imageBody(request: MediaRequest): Record<string, unknown> {
  const { input, parameters } = splitOptions(request.options);
  return {
    model: request.model,
    input: { ...input, prompt: request.prompt },
    parameters: {
      ...parameters,
      ...(request.size !== undefined ? { size: dashSize(request.size) } : {}),
      n: request.n ?? 1,
      ...(request.seed !== undefined ? { seed: request.seed } : {}),
    },
  };
}

/**
 * Statuses: PENDING / SUSPENDED → queued, RUNNING → processing, SUCCEEDED → succeeded, FAILED → failed,
 * CANCELED (one L) → cancelled, UNKNOWN (the id expired after 24 h or never existed) → failed.
 * Video usage is `usage.video_duration`, the seconds made; images are the results that carry a URL.
 */
export function taskJob(task: DashScopeTask, request: MediaRequest, secrets: readonly string[]): ProviderJob | undefined {
  const out = task.output;
  const base = { jobId: out.task_id, progress: null, outputs: [] };
  const failed = (code: string | undefined, message: string | undefined | null, what = 'failed'): ProviderJob => {
    const policy = isDashScopePolicy(code);
    return {
      ...base,
      status: 'failed',
      error: {
        code: policy ? 'content_policy_violation' : 'job_failed',
        retryable: !policy && isDashScopeInfraFailure(code),
        ...(code ? { providerCode: code } : {}),
        message: clip(scrub(`dashscope task ${out.task_id} ${what}${code ? ` (${code})` : ''}: ${message ?? 'no message'}`, secrets)),
      },
    };
  };
  switch (out.task_status) {
    case 'PENDING':
    case 'SUSPENDED':
      return { ...base, status: 'queued' };
    case 'RUNNING':
      return { ...base, status: 'processing' };
    case 'CANCELED':
      return { ...base, status: 'cancelled' };
    case 'FAILED':
      return failed(out.code ?? undefined, out.message);
    case 'UNKNOWN':
      return {
        ...base,
        status: 'failed',
        error: { code: 'job_expired', retryable: false, providerCode: 'UNKNOWN', message: `dashscope task ${out.task_id} is UNKNOWN (expired after 24 h, or never existed)` },
      };
    case 'SUCCEEDED': {
      if (request.kind === 'video') {
        if (!out.video_url) return failed(undefined, 'SUCCEEDED without a video_url', 'ended');
        const seconds = task.usage?.video_duration ?? request.duration ?? undefined;
        return {
          ...base,
          status: 'succeeded',
          progress: 100,
          outputs: [{ url: out.video_url, contentType: 'video/mp4' }],
          usage: seconds !== undefined ? { seconds } : {},
        };
      }
      const results = out.results ?? [];
      const urls = results.map((r) => r.url).filter((url): url is string => typeof url === 'string' && url.length > 0);
      if (urls.length === 0) {
        const first = results.find((r) => r.code);
        return failed(first?.code ?? undefined, first?.message ?? 'SUCCEEDED without any image', 'made no image');
      }
      return { ...base, status: 'succeeded', progress: 100, outputs: urls.map((url) => ({ url })), usage: { images: urls.length } };
    }
    default:
      return undefined;
  }
}
