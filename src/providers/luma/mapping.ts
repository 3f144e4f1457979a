/** Our MediaRequest into Luma generation bodies, and generations into ProviderJobs. */
import { clip, scrub, withoutPriced } from '../http';
import type { MediaRequest, ProviderJob } from '../types';
import type { LumaGeneration } from './dto';
import { isLumaInfraFailure, isLumaPolicy } from './errors';

/** Body fields that decide Luma's price or model: model × resolution × duration (a `"5s"` string). */
export const LUMA_PRICED_KEYS = ['model', 'duration', 'resolution'] as const;

/** `5` as Luma's `"5s"`. */
export function lumaDuration(seconds: number): string {
  return `${seconds}s`;
}

/** Seconds from `"5s"`; undefined for anything else. */
export function parseLumaDuration(value: string | null | undefined): number | undefined {
  const m = /^(\d+(?:\.\d+)?)s$/.exec(value ?? '');
  return m ? Number(m[1]) : undefined;
}

/**
 * Video: `POST /generations/video` `{...options, model, prompt, aspect_ratio, resolution, duration: "5s",
 * keyframes: {frame0: imageUrl, frame1: lastFrameUrl} as `{type: "image", url}`, callback_url}`. Image:
 * `POST /generations/image` `{...options, model, prompt, aspect_ratio, image_ref: [{url}] from imageUrls,
 * callback_url}`.
 */
export function generationBody(request: MediaRequest, callbackUrl: string | undefined): { path: string; body: Record<string, unknown> } {
  const refs = request.references;
  const common = {
    // The callback URL is the gateway's to choose (ours, or none): a consumer's never reaches the provider.
    ...withoutPriced(request.options, [...LUMA_PRICED_KEYS, 'callback_url']),
    model: request.model,
    prompt: request.prompt,
    ...(request.aspectRatio !== undefined ? { aspect_ratio: request.aspectRatio } : {}),
    ...(callbackUrl ? { callback_url: callbackUrl } : {}),
  };
  if (request.kind === 'image') {
    const urls = refs.imageUrls ?? (refs.imageUrl ? [refs.imageUrl] : []);
    return { path: 'generations/image', body: { ...common, ...(urls.length > 0 ? { image_ref: urls.map((url) => ({ url })) } : {}) } };
  }
  const keyframes: Record<string, { type: 'image'; url: string }> = {};
  if (refs.imageUrl) keyframes.frame0 = { type: 'image', url: refs.imageUrl };
  if (refs.lastFrameUrl) keyframes.frame1 = { type: 'image', url: refs.lastFrameUrl };
  return {
    path: 'generations/video',
    body: {
      ...common,
      ...(request.resolution !== undefined ? { resolution: request.resolution } : {}),
      ...(request.duration !== undefined ? { duration: lumaDuration(request.duration) } : {}),
      ...(Object.keys(keyframes).length > 0 ? { keyframes } : {}),
    },
  };
}

/**
 * Luma states: queued → queued, dreaming → processing (no progress), completed → the `assets.video` or
 * `assets.image` URL, failed → failed by its `failure_reason` text. Video usage is the duration the
 * generation's own request echo says (`"5s"`), else the requested one.
 */
export function generationJob(gen: LumaGeneration, request: MediaRequest, secrets: readonly string[]): ProviderJob | undefined {
  const base = { jobId: gen.id, progress: null, outputs: [] };
  switch (gen.state) {
    case 'queued':
      return { ...base, status: 'queued' };
    case 'dreaming':
      return { ...base, status: 'processing' };
    case 'completed': {
      const url = request.kind === 'image' ? gen.assets?.image : gen.assets?.video;
      if (!url) return { ...base, status: 'failed', error: { code: 'job_failed', retryable: true, message: `luma generation ${gen.id} completed without an asset` } };
      const seconds = parseLumaDuration(gen.request?.duration) ?? request.duration;
      const usage = request.kind === 'image' ? { images: 1 } : seconds !== undefined ? { seconds } : {};
      return { ...base, status: 'succeeded', progress: 100, outputs: [{ url, contentType: request.kind === 'image' ? 'image/jpeg' : 'video/mp4' }], usage };
    }
    case 'failed': {
      const reason = gen.failure_reason ?? undefined;
      const policy = isLumaPolicy(reason);
      return {
        ...base,
        status: 'failed',
        error: {
          code: policy ? 'content_policy_violation' : 'job_failed',
          retryable: isLumaInfraFailure(reason),
          message: clip(scrub(`luma generation ${gen.id} failed: ${reason ?? 'no reason given'}`, secrets)),
        },
      };
    }
    default:
      return undefined;
  }
}
