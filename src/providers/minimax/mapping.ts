/** Our MediaRequest into MiniMax video and music bodies, and MiniMax answers into ProviderJobs. */
import { clip, scrub, withoutPriced } from '../http';
import type { MediaRequest, ProviderErrorInfo, ProviderJob, ProviderOutput } from '../types';
import type { MusicAnswer, VideoQuery } from './dto';
import { miniMaxError } from './errors';

/**
 * Body fields that decide MiniMax's price or model: the video `duration` and `resolution`, and `model`.
 * Written from the priced request after the options.
 */
export const MINIMAX_PRICED_KEYS = ['model', 'duration', 'resolution'] as const;
/** Fields only the gateway writes: where MiniMax calls back, and how music comes back (inline hex). */
const GATEWAY_KEYS = ['callback_url', 'stream', 'output_format'];

/** Music jobs are synchronous: their id is ours, so status() knows there is nothing to ask. */
export const MUSIC_JOB_PREFIX = 'mmmusic_';
/** Seconds a Hailuo video lasts when the request does not say (MiniMax's default). */
const DEFAULT_VIDEO_SECONDS = 6;

/**
 * The options (without priced or gateway keys), then `{model, prompt, duration?, resolution?,
 * first_frame_image?, last_frame_image?, subject_reference?, callback_url?}`. `resolution` goes up in
 * MiniMax's spelling (`768P`).
 */
export function videoBody(request: MediaRequest, callbackUrl: string | undefined): Record<string, unknown> {
  const refs = request.references;
  return {
    ...withoutPriced(request.options, [...MINIMAX_PRICED_KEYS, ...GATEWAY_KEYS]),
    model: request.model,
    ...(request.prompt ? { prompt: request.prompt } : {}),
    ...(request.duration !== undefined ? { duration: request.duration } : {}),
    ...(request.resolution !== undefined ? { resolution: request.resolution.toUpperCase() } : {}),
    ...(refs.imageUrl ? { first_frame_image: refs.imageUrl } : {}),
    ...(refs.lastFrameUrl ? { last_frame_image: refs.lastFrameUrl } : {}),
    ...(refs.imageUrls?.length ? { subject_reference: [{ type: 'character', image: refs.imageUrls }] } : {}),
    ...(callbackUrl ? { callback_url: callbackUrl } : {}),
  };
}

/**
 * The options (lyrics, is_instrumental, audio_setting...; without priced or gateway keys), then
 * `{model, prompt, stream: false, output_format: "hex"}`: the audio comes back inline, so no URL can expire.
 */
export function musicBody(request: MediaRequest): Record<string, unknown> {
  return {
    audio_setting: { sample_rate: 44100, bitrate: 256000, format: 'mp3' },
    ...withoutPriced(request.options, [...MINIMAX_PRICED_KEYS, ...GATEWAY_KEYS]),
    model: request.model,
    prompt: request.prompt,
    stream: false,
    output_format: 'hex',
  };
}

const AUDIO_TYPES: Record<string, string> = { mp3: 'audio/mpeg', wav: 'audio/wav', pcm: 'audio/L16' };

/** The finished music job: the hex audio as bytes, usage seconds from `extra_info.music_duration` (ms). */
export function musicJob(jobId: string, answer: MusicAnswer, format: string): ProviderJob | string {
  const audio = answer.data.audio;
  let output: ProviderOutput;
  if (/^https?:\/\//.test(audio)) {
    output = { url: audio, contentType: AUDIO_TYPES[format] ?? 'audio/mpeg' };
  } else {
    if (audio.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(audio)) return 'data.audio is neither hex bytes nor a URL';
    output = { base64: Buffer.from(audio, 'hex').toString('base64'), contentType: AUDIO_TYPES[format] ?? 'audio/mpeg' };
  }
  if (answer.data.status !== undefined && answer.data.status !== null && answer.data.status !== 2) {
    return `data.status ${answer.data.status} (not finished)`;
  }
  const ms = answer.extra_info?.music_duration ?? undefined;
  return {
    jobId,
    status: 'succeeded',
    progress: 100,
    outputs: [output],
    usage: ms !== undefined && ms > 0 ? { seconds: ms / 1000 } : {},
  };
}

/** The audio format the music body asked for (`audio_setting.format`, mp3 by default). */
export function musicFormat(body: Record<string, unknown>): string {
  const setting = body.audio_setting;
  const format = typeof setting === 'object' && setting !== null ? (setting as Record<string, unknown>).format : undefined;
  return typeof format === 'string' ? format : 'mp3';
}

/**
 * Query statuses: `Preparing` / `Queueing` → queued, `Processing` → processing, `Success` → succeeded
 * (the caller retrieves the file), `Fail` → failed, classified by the `base_resp` code it carries.
 * Callbacks spell them lowercase (`processing`, `success`, `failed`): both are read.
 */
export function queryStatus(query: VideoQuery): 'queued' | 'processing' | 'succeeded' | 'failed' | undefined {
  switch (query.status.toLowerCase()) {
    case 'preparing':
    case 'queueing':
    case 'queued':
      return 'queued';
    case 'processing':
      return 'processing';
    case 'success':
      return 'succeeded';
    case 'fail':
    case 'failed':
      return 'failed';
    default:
      return undefined;
  }
}

/** A failed video task's error: its `base_resp` code when it has one (1026/1027 content), else job_failed. */
export function failedVideo(jobId: string, query: VideoQuery, secrets: readonly string[]): ProviderErrorInfo {
  const base = query.base_resp;
  if (base && base.status_code !== 0) return miniMaxError(`video task ${jobId} failed`, base, secrets);
  return { code: 'job_failed', retryable: false, message: clip(scrub(`minimax video task ${jobId} failed: ${base?.status_msg ?? 'no message'}`, secrets)) };
}

/** Usage seconds of a video: MiniMax reports none, so the priced duration (6 s when none was asked). */
export function videoSeconds(request: MediaRequest): number {
  return request.duration ?? DEFAULT_VIDEO_SECONDS;
}
