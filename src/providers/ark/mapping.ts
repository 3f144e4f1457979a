/** Our MediaRequest into an Ark task body, and Ark tasks into ProviderJobs. */
import { clip, scrub, withoutPriced } from '../http';
import type { MediaRequest, ProviderJob } from '../types';
import type { ArkTask } from './dto';
import { isArkInfraFailure, isArkPolicy } from './errors';

type ContentItem =
  | { type: 'text'; text: string }
  | { type: 'image_url'; image_url: { url: string }; role: 'first_frame' | 'last_frame' | 'reference_image' }
  | { type: 'video_url'; video_url: { url: string }; role: 'reference_video' }
  | { type: 'audio_url'; audio_url: { url: string }; role: 'reference_audio' };

/**
 * Body fields that decide Ark's price or model: `duration` and `frames` (Seedance takes either), `resolution`,
 * `service_tier` and `draft` (other price lists). Written from the priced request after the options.
 */
export const ARK_PRICED_KEYS = ['model', 'duration', 'frames', 'resolution', 'service_tier', 'draft'] as const;

/**
 * The options (without priced keys), then `{model, content, duration?, resolution?, ratio?, seed?}`. Content: the prompt as text, then
 * `imageUrl` as first_frame, `lastFrameUrl` as last_frame, each of `imageUrls` as reference_image, and
 * (Seedance 2.0) `videoUrl` / `audioUrl` as reference_video / reference_audio.
 */
export function taskBody(request: MediaRequest): Record<string, unknown> {
  const refs = request.references;
  const content: ContentItem[] = [];
  if (request.prompt) content.push({ type: 'text', text: request.prompt });
  if (refs.imageUrl) content.push({ type: 'image_url', image_url: { url: refs.imageUrl }, role: 'first_frame' });
  if (refs.lastFrameUrl) content.push({ type: 'image_url', image_url: { url: refs.lastFrameUrl }, role: 'last_frame' });
  for (const url of refs.imageUrls ?? []) {
    content.push({ type: 'image_url', image_url: { url }, role: 'reference_image' });
  }
  if (refs.videoUrl) content.push({ type: 'video_url', video_url: { url: refs.videoUrl }, role: 'reference_video' });
  if (refs.audioUrl) content.push({ type: 'audio_url', audio_url: { url: refs.audioUrl }, role: 'reference_audio' });
  return {
    ...withoutPriced(request.options, ARK_PRICED_KEYS),
    model: request.model,
    content,
    ...(request.duration !== undefined ? { duration: request.duration } : {}),
    ...(request.resolution !== undefined ? { resolution: request.resolution } : {}),
    ...(request.aspectRatio !== undefined ? { ratio: request.aspectRatio } : {}),
    ...(request.seed !== undefined ? { seed: request.seed } : {}),
  };
}

/**
 * Ark statuses: queued → queued, running → processing, succeeded → succeeded (the `video_url`),
 * failed → failed, cancelled → cancelled, expired → failed `job_expired` (retryable). Ark has no progress.
 * Usage seconds are what Ark made: the task's own `duration` (the request's when Ark omits it).
 */
export function taskJob(task: ArkTask, request: MediaRequest, secrets: readonly string[]): ProviderJob | undefined {
  const base = { jobId: task.id, progress: null, outputs: [] };
  switch (task.status) {
    case 'queued':
      return { ...base, status: 'queued' };
    case 'running':
      return { ...base, status: 'processing' };
    case 'cancelled':
      return { ...base, status: 'cancelled' };
    case 'succeeded': {
      const url = task.content?.video_url;
      if (!url) {
        return {
          ...base,
          status: 'failed',
          error: { code: 'job_failed', retryable: false, message: `ark task ${task.id} succeeded without a video_url` },
        };
      }
      const seconds = task.duration ?? request.duration ?? undefined;
      const tokens = task.usage?.total_tokens ?? undefined;
      return {
        ...base,
        status: 'succeeded',
        progress: 100,
        outputs: [{ url, contentType: 'video/mp4' }],
        usage: { ...(seconds !== undefined ? { seconds } : {}), ...(tokens !== undefined ? { tokens } : {}) },
      };
    }
    case 'failed': {
      const code = task.error?.code ?? undefined;
      const policy = isArkPolicy(code);
      return {
        ...base,
        status: 'failed',
        error: {
          code: policy ? 'content_policy_violation' : 'job_failed',
          retryable: !policy && isArkInfraFailure(code),
          providerCode: code,
          message: clip(scrub(`ark task ${task.id} failed${code ? ` (${code})` : ''}: ${task.error?.message ?? 'no message'}`, secrets)),
        },
      };
    }
    case 'expired':
      return {
        ...base,
        status: 'failed',
        error: {
          code: 'job_expired',
          retryable: true,
          providerCode: task.error?.code ?? 'expired',
          message: clip(scrub(`ark task ${task.id} expired before it finished${task.error?.message ? `: ${task.error.message}` : ''}`, secrets)),
        },
      };
    default:
      return undefined;
  }
}
