/** Our MediaRequest into a Veo `predictLongRunning` body, and Gemini operations into ProviderJobs. */
import { clip, scrub, withoutPriced } from '../http';
import type { MediaRequest, ProviderJob, ProviderOutput } from '../types';
import type { GeminiOperation, GeminiSettings } from './dto';
import { isTransientRpcCode } from './errors';

/**
 * Fields that decide Veo's price or model: the model (in the URL, never from options), `durationSeconds`,
 * `resolution`, `sampleCount` (the docs spell it `numberOfVideos`) and `generateAudio` (audio is priced
 * where it can be turned off). Written from the priced request after the options.
 */
export const GEMINI_PRICED_KEYS = ['model', 'durationSeconds', 'resolution', 'sampleCount', 'numberOfVideos', 'generateAudio'] as const;

/**
 * `{instances:[{prompt}], parameters:{...options without priced keys, aspectRatio?, personGeneration?,
 * durationSeconds?, resolution?, sampleCount}}`. Veo on the Gemini API takes images only as inline bytes,
 * so the adapter serves text to video: a request with references is refused before anything is sent.
 */
export function videoBody(request: MediaRequest, settings: GeminiSettings): Record<string, unknown> {
  return {
    instances: [{ prompt: request.prompt }],
    parameters: {
      ...withoutPriced(request.options, GEMINI_PRICED_KEYS),
      ...(request.aspectRatio !== undefined ? { aspectRatio: request.aspectRatio } : {}),
      ...(settings.personGeneration !== undefined ? { personGeneration: settings.personGeneration } : {}),
      ...(request.duration !== undefined ? { durationSeconds: request.duration } : {}),
      ...(request.resolution !== undefined ? { resolution: request.resolution } : {}),
      sampleCount: request.n ?? 1,
    },
  };
}

/**
 * Not done → processing (Veo reports neither a queue nor progress). Done with `error` → failed (transient
 * gRPC codes retryable). Done with samples → succeeded; usage seconds are the priced `durationSeconds` per
 * delivered sample (Veo reports no length). Done with every sample RAI-filtered → a final content-policy
 * failure (Google does not bill blocked videos).
 */
export function operationJob(op: GeminiOperation, request: MediaRequest, secrets: readonly string[]): ProviderJob {
  const base = { jobId: op.name, progress: null, outputs: [] };
  if (!op.done) return { ...base, status: 'processing' };
  if (op.error) {
    const code = op.error.code ?? undefined;
    return {
      ...base,
      status: 'failed',
      error: {
        code: 'job_failed',
        retryable: isTransientRpcCode(code),
        providerCode: code !== undefined ? String(code) : undefined,
        message: clip(scrub(`gemini operation ${op.name} failed${code !== undefined ? ` (code ${code})` : ''}: ${op.error.message ?? 'no message'}`, secrets)),
      },
    };
  }
  const response = op.response?.generateVideoResponse;
  const outputs: ProviderOutput[] = [];
  for (const sample of response?.generatedSamples ?? []) {
    const video = sample.video;
    if (video?.uri) outputs.push({ url: video.uri, contentType: 'video/mp4' });
    else if (video?.encodedVideo) outputs.push({ base64: video.encodedVideo, contentType: video.mimeType ?? video.encoding ?? 'video/mp4' });
  }
  if (outputs.length > 0) {
    const seconds = request.duration !== undefined ? request.duration * outputs.length : undefined;
    return { ...base, status: 'succeeded', progress: 100, outputs, usage: seconds !== undefined ? { seconds } : {} };
  }
  const filtered = response?.raiMediaFilteredCount ?? 0;
  if (filtered > 0 || (response?.raiMediaFilteredReasons?.length ?? 0) > 0) {
    const reasons = (response?.raiMediaFilteredReasons ?? []).join('; ');
    return {
      ...base,
      status: 'failed',
      error: {
        code: 'content_policy_violation',
        retryable: false,
        providerCode: 'RAI_MEDIA_FILTERED',
        message: clip(scrub(`gemini operation ${op.name}: the video was blocked by Google's safety filters${reasons ? `: ${reasons}` : ''}`, secrets)),
      },
    };
  }
  return {
    ...base,
    status: 'failed',
    error: { code: 'job_failed', retryable: false, message: `gemini operation ${op.name} finished without a video` },
  };
}
