/** The Gemini API (generativelanguage.googleapis.com) wire shapes the Veo adapter reads. */
import { z } from 'zod';
import { BaseChannelSettings } from '../http';

/** Channel settings of a `gemini` channel (base URL: `https://generativelanguage.googleapis.com/v1beta`). */
export const GeminiSettings = BaseChannelSettings.extend({
  /**
   * `personGeneration` sent with every video: Veo takes only `allow_all` for text to video and only
   * `allow_adult` in the EU, UK, CH and MENA; unset leaves Google's default.
   */
  personGeneration: z.enum(['allow_all', 'allow_adult', 'dont_allow']).optional(),
});
export type GeminiSettings = z.infer<typeof GeminiSettings>;

/** google.rpc.Status: `{"error":{"code":429,"message","status":"RESOURCE_EXHAUSTED","details":[...]}}`. */
export const GeminiErrorBody = z.looseObject({
  error: z.looseObject({
    code: z.number().nullish(),
    message: z.string().nullish(),
    status: z.string().nullish(),
    details: z.array(z.looseObject({ '@type': z.string().nullish(), retryDelay: z.string().nullish(), reason: z.string().nullish() })).nullish(),
  }),
});

const GeneratedSample = z.looseObject({
  video: z
    .looseObject({ uri: z.string().nullish(), encodedVideo: z.string().nullish(), encoding: z.string().nullish(), mimeType: z.string().nullish() })
    .nullish(),
});

/**
 * A long-running operation: no status enum, only `done`; once done, either `error` (a gRPC status with a
 * numeric code) or `response.generateVideoResponse` (samples, or RAI-filtered counts and reasons).
 */
export const GeminiOperation = z.looseObject({
  name: z.string().min(1),
  done: z.boolean().nullish(),
  error: z.looseObject({ code: z.number().nullish(), message: z.string().nullish() }).nullish(),
  response: z
    .looseObject({
      generateVideoResponse: z
        .looseObject({
          generatedSamples: z.array(GeneratedSample).nullish(),
          raiMediaFilteredCount: z.number().nullish(),
          raiMediaFilteredReasons: z.array(z.string()).nullish(),
        })
        .nullish(),
    })
    .nullish(),
});
export type GeminiOperation = z.infer<typeof GeminiOperation>;
