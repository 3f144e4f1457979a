/** Our MediaRequest into a Replicate prediction, and predictions into ProviderJobs. */
import {
  buildModelInput,
  clip,
  defaultContentType,
  guessContentType,
  isRecord,
  parseDataUri,
  scrub,
  type InputKeys,
  type ResolvedInputKeys,
} from '../http';
import { ProviderError, type MediaKind, type MediaRequest, type ProviderJob, type ProviderOutput } from '../types';
import type { Prediction } from './dto';
import { errorText, isReplicateInfraFailure, isReplicatePolicy } from './errors';

/** Input names most Replicate models use; a channel's `inputKeys` setting overrides them. */
export const REPLICATE_INPUT_KEYS: ResolvedInputKeys = {
  prompt: 'prompt',
  imageUrl: 'image',
  imageUrls: 'input_images',
  lastFrameUrl: 'last_frame_image',
  videoUrl: 'video',
  audioUrl: 'audio',
  duration: 'duration',
  size: 'size',
  resolution: 'resolution',
  aspectRatio: 'aspect_ratio',
  n: 'num_outputs',
  seed: 'seed',
  quality: 'quality',
};

/**
 * Input fields that decide a Replicate model's price: duration (also `seconds`, `num_frames`), the output
 * count, size, resolution and quality. With the channel's renamed `inputKeys` they are written from the
 * priced request after the options. (The model itself is in the URL or `version`, never in the input.)
 */
export const REPLICATE_PRICED_KEYS = [
  'duration', 'seconds', 'num_frames', 'num_outputs', 'size', 'resolution', 'quality',
] as const;

/** Where and what to POST: a pinned version goes to `/predictions`, a bare model to its own route. */
export function createTarget(
  request: MediaRequest,
  inputKeys: InputKeys | undefined,
): { path: string; body: Record<string, unknown> } {
  const input = buildModelInput(request, REPLICATE_INPUT_KEYS, inputKeys, REPLICATE_PRICED_KEYS);
  const model = request.model.trim();
  const pinned = /^([\w.-]+\/[\w.-]+):([0-9a-f]{8,})$/i.exec(model);
  if (pinned) return { path: 'predictions', body: { version: pinned[2], input } };
  if (/^[0-9a-f]{64}$/i.test(model)) return { path: 'predictions', body: { version: model, input } };
  const named = /^([\w.-]+)\/([\w.-]+)$/.exec(model);
  if (named) {
    const path = `models/${encodeURIComponent(named[1])}/${encodeURIComponent(named[2])}/predictions`;
    return { path, body: { input } };
  }
  throw new ProviderError({
    code: 'invalid_request',
    retryable: false,
    message: `replicate model "${model}" is not "owner/name" or "owner/name:version"`,
  });
}

/** Output files from a model-defined `output`: a URL, a list of URLs, or an object holding URLs. */
export function normalizeOutput(output: unknown, kind: MediaKind): ProviderOutput[] {
  const found: ProviderOutput[] = [];
  const seen = new Set<string>();
  const visit = (value: unknown, depth: number): void => {
    if (depth > 5) return;
    if (typeof value === 'string') {
      if (seen.has(value)) return;
      if (/^https?:\/\//i.test(value)) {
        seen.add(value);
        found.push({ url: value, contentType: guessContentType(value) ?? defaultContentType(kind) });
      } else {
        const data = parseDataUri(value);
        if (data) {
          seen.add(value);
          found.push({ base64: data.base64, contentType: data.contentType });
        }
      }
    } else if (Array.isArray(value)) {
      for (const item of value) visit(item, depth + 1);
    } else if (isRecord(value)) {
      for (const item of Object.values(value)) visit(item, depth + 1);
    }
  };
  visit(output, 0);
  return found;
}

/** The last tqdm-style percentage (` 45%|████▌ | 45/100`) in the logs, or null. */
export function progressFromLogs(logs: string | null | undefined): number | null {
  if (!logs) return null;
  let last: number | null = null;
  for (const m of logs.matchAll(/(\d{1,3})%\|/g)) last = Math.min(100, Number(m[1]));
  return last;
}

/**
 * Statuses: starting → queued, processing → processing, succeeded → succeeded, failed → failed,
 * canceled → cancelled, aborted (never started before its Cancel-After deadline) → failed, retryable.
 * Usage: video and music bill the requested duration (predict_time when none was asked); images bill the
 * number of files, with predict_time as seconds.
 */
export function predictionJob(p: Prediction, request: MediaRequest, secrets: readonly string[]): ProviderJob | undefined {
  const base = { jobId: p.id, outputs: [] as ProviderOutput[], progress: null as number | null };
  const predictTime = p.metrics?.predict_time ?? undefined;
  const said = errorText(p.error);
  const message = (what: string) => clip(scrub(`replicate prediction ${p.id} ${what}${said ? `: ${said}` : ''}`, secrets));
  switch (p.status) {
    case 'starting':
      return { ...base, status: 'queued' };
    case 'processing':
      return { ...base, status: 'processing', progress: progressFromLogs(p.logs) };
    case 'canceled':
      return { ...base, status: 'cancelled' };
    case 'aborted':
      return { ...base, status: 'failed', error: { code: 'job_failed', retryable: true, providerCode: 'aborted', message: message('was aborted before it started') } };
    case 'failed': {
      const policy = isReplicatePolicy(said);
      return {
        ...base,
        status: 'failed',
        error: {
          code: policy ? 'content_policy_violation' : 'job_failed',
          retryable: !policy && isReplicateInfraFailure(said),
          message: message('failed'),
        },
      };
    }
    case 'succeeded': {
      const outputs = normalizeOutput(p.output, request.kind);
      if (outputs.length === 0) {
        const removed = p.data_removed === true;
        return {
          ...base,
          status: 'failed',
          error: removed
            ? { code: 'job_expired', retryable: true, message: message('succeeded but its outputs were already deleted') }
            : { code: 'job_failed', retryable: false, message: message('succeeded without any output file') },
        };
      }
      const usage =
        request.kind === 'image'
          ? { images: outputs.length, ...(predictTime !== undefined ? { seconds: predictTime } : {}) }
          : (request.duration ?? predictTime) !== undefined
            ? { seconds: request.duration ?? predictTime }
            : {};
      return { ...base, status: 'succeeded', progress: 100, outputs, usage };
    }
    default:
      return undefined;
  }
}
