/** Our MediaRequest into a fal model input, and fal results into outputs. */
import { buildModelInput, defaultContentType, guessContentType, isRecord, type InputKeys, type ResolvedInputKeys } from '../http';
import type { MediaKind, MediaRequest, ProviderOutput } from '../types';

/** Input names most fal models use; a channel's `inputKeys` setting overrides them. */
export const FAL_INPUT_KEYS: ResolvedInputKeys = {
  prompt: 'prompt',
  imageUrl: 'image_url',
  imageUrls: 'image_urls',
  lastFrameUrl: 'end_image_url',
  videoUrl: 'video_url',
  audioUrl: 'audio_url',
  duration: 'duration',
  size: 'image_size',
  resolution: 'resolution',
  aspectRatio: 'aspect_ratio',
  n: 'num_images',
  seed: 'seed',
  quality: 'quality',
};

/**
 * Input fields that decide a fal model's price: duration (also as `seconds_total` or `num_frames`), the
 * image count, the size, resolution and quality. With the channel's renamed `inputKeys` they are written
 * from the priced request after the options.
 */
export const FAL_PRICED_KEYS = [
  'model', 'duration', 'seconds_total', 'num_frames', 'num_images', 'image_size', 'resolution', 'quality',
] as const;

export function modelInput(request: MediaRequest, inputKeys: InputKeys | undefined): Record<string, unknown> {
  return buildModelInput(request, FAL_INPUT_KEYS, inputKeys, FAL_PRICED_KEYS);
}

/** `fal-ai/flux/dev` → `fal-ai/flux`: the queue's request URLs use the app id, not the endpoint path. */
export function appId(model: string): string {
  return model.split('/').filter(Boolean).slice(0, 2).join('/');
}

/** Result files: `images[]`, `image`, `video`, `videos[]`, `audio_file`, `audio`; else any `{url}` object. */
export function resultOutputs(result: Record<string, unknown>, kind: MediaKind): ProviderOutput[] {
  const out: ProviderOutput[] = [];
  const seen = new Set<string>();
  const add = (file: unknown): void => {
    if (typeof file === 'string' && /^https?:\/\//i.test(file)) file = { url: file };
    if (!isRecord(file) || typeof file.url !== 'string' || seen.has(file.url)) return;
    seen.add(file.url);
    const declared = typeof file.content_type === 'string' ? file.content_type : undefined;
    out.push({ url: file.url, contentType: declared ?? guessContentType(file.url) ?? defaultContentType(kind) });
  };
  for (const key of ['images', 'videos', 'audios']) {
    const list = result[key];
    if (Array.isArray(list)) list.forEach(add);
  }
  for (const key of ['image', 'video', 'audio_file', 'audio', 'audio_url']) add(result[key]);
  if (out.length > 0) return out;
  const visit = (value: unknown, depth: number): void => {
    if (depth > 5) return;
    if (Array.isArray(value)) value.forEach((v) => visit(v, depth + 1));
    else if (isRecord(value)) {
      if (typeof value.url === 'string') add(value);
      else Object.values(value).forEach((v) => visit(v, depth + 1));
    }
  };
  visit(result, 0);
  return out;
}
