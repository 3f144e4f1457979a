/**
 * `gemini` adapter (Veo video on the Gemini API): `POST {base}/models/{model}:predictLongRunning` starts an
 * operation, `GET {base}/{operation name}` polls it until `done`, and each video is downloaded from its
 * `files/{id}:download` URI with the key, which redirects to storage. Auth `x-goog-api-key` (never `?key=`,
 * which would put the key in URLs). No cancel in the protocol. Never retries.
 */
import { Readable } from 'node:stream';
import {
  badResponse,
  errorFromReply,
  joinUrl,
  parseBody,
  parseChannelSettings,
  send,
  type HttpCall,
  type HttpReply,
} from '../http';
import {
  ProviderError,
  type CancelOutcome,
  type ChannelAccess,
  type JobRef,
  type MediaProvider,
  type MediaRequest,
  type OpenedOutput,
  type OutputRequest,
  type ProviderJob,
  type ProviderOutput,
} from '../types';
import { GeminiOperation, GeminiSettings } from './dto';
import { readGeminiError, refineGeminiError } from './errors';
import { GEMINI_PRICED_KEYS, operationJob, videoBody } from './mapping';

const PROVIDER = 'gemini';
/** `models/{model}/operations/{id}`: anything else is not an operation of this API and is never fetched. */
const OPERATION_NAME = /^models\/[A-Za-z0-9._-]+\/operations\/[A-Za-z0-9._-]+$/;

export { GeminiSettings } from './dto';

/** Creates the `gemini` media provider (video). */
export function createGeminiProvider(): MediaProvider {
  function call(channel: ChannelAccess, operation: string, method: HttpCall['method'], url: string, json?: unknown): HttpCall {
    const settings = parseChannelSettings(PROVIDER, GeminiSettings, channel);
    return {
      provider: PROVIDER,
      operation,
      method,
      url,
      headers: { 'x-goog-api-key': channel.apiKey },
      json,
      timeoutMs: settings.timeoutMs,
      secrets: [channel.apiKey],
    };
  }

  /** One call; a non-2xx answer is classified with Google's error details and thrown. */
  async function sendGemini(c: HttpCall, notFoundCode?: string): Promise<HttpReply> {
    const reply = await send(c);
    if (reply.status >= 200 && reply.status <= 299) return reply;
    throw refineGeminiError(errorFromReply(c, reply, readGeminiError, { notFoundCode }), reply.text);
  }

  async function submit(channel: ChannelAccess, request: MediaRequest): Promise<ProviderJob> {
    if (request.kind !== 'video') {
      throw new ProviderError({ code: 'invalid_request', retryable: false, message: `gemini does not serve ${request.kind}` });
    }
    const refs = request.references;
    if (refs.imageUrl || refs.lastFrameUrl || refs.imageUrls?.length || refs.videoUrl || refs.audioUrl) {
      throw new ProviderError({
        code: 'invalid_request',
        retryable: false,
        message: 'gemini channels serve text to video only: Veo on the Gemini API takes reference media as inline bytes, not URLs',
      });
    }
    const settings = parseChannelSettings(PROVIDER, GeminiSettings, channel);
    const url = joinUrl(channel.baseUrl, `models/${encodeURIComponent(request.model)}:predictLongRunning`);
    const c = call(channel, 'submit', 'POST', url, videoBody(request, settings));
    const reply = await sendGemini(c);
    const op = parseBody(c, reply, GeminiOperation);
    if (!OPERATION_NAME.test(op.name)) throw badResponse(c, `operation name "${op.name}" is not models/{model}/operations/{id}`, reply.status);
    // A fast operation may be done at once; otherwise it is followed by polling.
    return operationJob(op, request, c.secrets);
  }

  async function status(channel: ChannelAccess, job: JobRef): Promise<ProviderJob> {
    if (!OPERATION_NAME.test(job.jobId)) {
      throw new ProviderError({ code: 'not_found', retryable: false, message: `gemini operation name "${job.jobId}" is not models/{model}/operations/{id}` });
    }
    const c = call(channel, 'status', 'GET', joinUrl(channel.baseUrl, job.jobId));
    const reply = await sendGemini(c, 'not_found');
    const op = parseBody(c, reply, GeminiOperation);
    return operationJob({ ...op, name: job.jobId }, job.request, c.secrets);
  }

  /** The Gemini API has no way to stop an operation: it runs to the end (and is billed). */
  async function cancel(channel: ChannelAccess, job: JobRef): Promise<CancelOutcome> {
    const now = await status(channel, job);
    return now.status === 'processing' ? 'not_cancellable' : 'already_finished';
  }

  /**
   * The file URI needs the key and answers with a redirect to storage: the gateway makes that request
   * through its guarded client, which trusts only this first hop (so a URI off the channel's origin is
   * refused here) and drops the key on the redirect to another origin.
   */
  async function openOutput(channel: ChannelAccess, _job: JobRef, output: ProviderOutput): Promise<OpenedOutput | { request: OutputRequest }> {
    if (output.base64 !== undefined) {
      return { body: Readable.from(Buffer.from(output.base64, 'base64')), contentType: output.contentType ?? 'video/mp4' };
    }
    const settings = parseChannelSettings(PROVIDER, GeminiSettings, channel);
    const c = call(channel, 'output', 'GET', output.url ?? '');
    const origin = new URL(channel.baseUrl).origin;
    let fileOrigin: string | undefined;
    try {
      fileOrigin = new URL(c.url).origin;
    } catch {
      fileOrigin = undefined;
    }
    if (fileOrigin !== origin) {
      throw new ProviderError({ code: 'bad_response', retryable: false, message: `gemini output: the video URI is not on the channel's origin ${origin}` });
    }
    return { request: { url: c.url, headers: { ...c.headers!, accept: '*/*' }, timeoutMs: settings.outputTimeoutMs } };
  }

  return {
    id: PROVIDER,
    kinds: ['video'],
    pricedKeys: GEMINI_PRICED_KEYS,
    deliveredFrom: 'the operation\'s `generatedSamples` (each the priced `durationSeconds`; RAI-filtered videos are not delivered nor billed)',
    submit,
    status,
    cancel,
    openOutput,
  };
}
