/** The ElevenLabs music API (`https://api.elevenlabs.io`, `POST /v1/music`) shapes this adapter reads. */
import { z } from 'zod';
import { BaseChannelSettings } from '../http';
import { SYNC_TIMEOUT_MS } from '../sync-audio';

/** Channel settings of an `elevenlabs` channel. */
export const ElevenLabsSettings = BaseChannelSettings.extend({
  timeoutMs: SYNC_TIMEOUT_MS,
  /** The `output_format` query parameter: `mp3_44100_128` (the v1 default), `pcm_44100`, `opus_48000_128`... */
  outputFormat: z
    .string()
    .regex(/^(auto|mp3_\d+_\d+|pcm_\d+|ulaw_8000|alaw_8000|opus_48000_\d+)$/, 'must be an ElevenLabs output_format such as mp3_44100_128')
    .default('mp3_44100_128'),
});
export type ElevenLabsSettings = z.infer<typeof ElevenLabsSettings>;

/**
 * Errors: `{"detail":{"status":"quota_exceeded","message":"..."}}`, or FastAPI's validation list
 * `{"detail":[{"loc":["body","music_length_ms"],"msg":"...","type":"..."}]}` on 422.
 */
export const ElevenLabsErrorBody = z.looseObject({
  detail: z.union([
    z.string(),
    z.looseObject({ status: z.string().nullish(), code: z.string().nullish(), message: z.string().nullish() }),
    z.array(z.looseObject({ loc: z.array(z.union([z.string(), z.number()])).nullish(), msg: z.string().nullish(), type: z.string().nullish() })),
  ]),
});
