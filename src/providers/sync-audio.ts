/**
 * The plumbing of synchronous audio protocols (ElevenLabs music, Stability's Stable Audio): one request
 * (JSON or multipart) whose 2xx answer is the audio itself, read as bytes, and the finished job it makes.
 * The bytes go back as a `base64` output: the submit activity stores them before returning (stageOutputs),
 * so only a storage key, never the audio, reaches workflow history.
 */
import { badResponse, errorFromReply, preview, transportError, type ErrorReader, type HttpCall } from './http';
import { z } from 'zod';
import { providerRequest, type ProviderAnswer } from './transport';
import { ProviderError, type JobRef, type MediaRequest, type ProviderJob, type SubmitContext } from './types';

/**
 * The call timeout of synchronous audio channels: the whole generation happens inside one request, so it
 * is longer than the usual 30 s, but stays under the submit activity's 2-minute limit (a timed-out
 * activity would be retried in place and could buy the same audio twice).
 */
export const SYNC_TIMEOUT_MS = z.number().int().min(1).max(115_000).default(110_000);

/** One call whose success answer is audio bytes. */
export interface AudioCall extends HttpCall {
  /** A multipart body instead of `json` (encoded with its boundary before sending). */
  form?: FormData;
}

/** Makes the call; a non-2xx answer is classified with `readError`, a 2xx one must be non-empty `audio/*`. */
export async function fetchAudio(call: AudioCall, readError: ErrorReader): Promise<{ bytes: Buffer; contentType: string }> {
  return readAudio(call, await request(call), readError);
}

async function request(call: AudioCall): Promise<ProviderAnswer> {
  const headers: Record<string, string> = { accept: 'audio/*', ...call.headers };
  let body: string | Buffer | undefined;
  if (call.form) {
    // Encoded the way fetch would (boundary in the content type), then sent through the guarded client.
    const encoded = new Response(call.form);
    headers['content-type'] = encoded.headers.get('content-type')!;
    body = Buffer.from(await encoded.arrayBuffer());
  } else if (call.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(call.json);
  }
  try {
    return await providerRequest({ url: call.url, method: call.method, headers, body, timeoutMs: call.timeoutMs });
  } catch (err) {
    throw transportError(call, err);
  }
}

function readAudio(call: AudioCall, res: ProviderAnswer, readError: ErrorReader): { bytes: Buffer; contentType: string } {
  const { bytes } = res;
  const contentType = (res.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
  if (res.status < 200 || res.status > 299) {
    throw errorFromReply(call, { status: res.status, headers: res.headers, text: bytes.toString('utf8') }, readError);
  }
  // A 2xx that is not audio (a JSON error inside 200, a proxy page) or an empty body is not a result.
  if (!contentType.startsWith('audio/') || bytes.length === 0) {
    const what = bytes.length === 0 ? 'an empty body' : `${contentType || 'no content type'}: ${preview(bytes.subarray(0, 300).toString('utf8'))}`;
    throw badResponse(call, `expected audio bytes, got ${what}`, res.status);
  }
  return { bytes, contentType };
}

/** The finished job a synchronous answer makes; `jobId` is ours (`<prefix>_<taskId>_<attempt>`): nothing upstream has one. */
export function finishedAudioJob(jobId: string, audio: { bytes: Buffer; contentType: string }, seconds: number | undefined): ProviderJob {
  return {
    jobId,
    status: 'succeeded',
    progress: 100,
    outputs: [{ base64: audio.bytes.toString('base64'), contentType: audio.contentType }],
    usage: seconds !== undefined ? { seconds } : {},
  };
}

/** status() of a synchronous job: it was final at submit and there is nothing upstream to ask. */
export function nothingToPoll(provider: string, job: JobRef): never {
  throw new ProviderError({
    code: 'not_found',
    retryable: false,
    message: `${provider} job ${job.jobId} was final at submit; the protocol is synchronous and has nothing to poll`,
  });
}

/**
 * The whole submit of a synchronous audio protocol once the adapter built its call: music only, one call,
 * the provider's own error rule (`reclassify`), then the finished job `<provider>_<taskId>_<attempt>`
 * whose usage is the requested duration (the answer says nothing else).
 */
export async function submitAudio(
  request: MediaRequest,
  ctx: SubmitContext,
  makeCall: () => AudioCall,
  rules: { readError: ErrorReader; reclassify: (err: unknown) => unknown },
): Promise<ProviderJob> {
  if (request.kind !== 'music') {
    throw new ProviderError({ code: 'invalid_request', retryable: false, message: `this provider does not serve ${request.kind}` });
  }
  const call = makeCall();
  const audio = await fetchAudio(call, rules.readError).catch((err: unknown) => {
    throw rules.reclassify(err);
  });
  return finishedAudioJob(`${call.provider}_${ctx.taskId}_${ctx.attempt}`, audio, request.duration);
}
