/**
 * `luma` adapter (Luma Dream Machine, `https://api.lumalabs.ai/dream-machine/v1`): `POST /generations/video`
 * or `/generations/image` → a generation, poll `GET /generations/{id}`; our callback URL goes in
 * `callback_url` (Luma POSTs the whole generation when it is dreaming, completed or failed; unsigned).
 * `Authorization: Bearer <key>`; never retries. No cancel: Luma's DELETE deletes a generation and whether
 * it stops a running one is not documented.
 */
import { badResponse, bearerCalls, parseBody, sendOk } from '../http';
import {
  ProviderError,
  type ChannelAccess,
  type JobRef,
  type MediaProvider,
  type MediaRequest,
  type ProviderCallback,
  type ProviderCallbackResult,
  type ProviderJob,
  type SubmitContext,
} from '../types';
import { LumaGeneration, LumaSettings } from './dto';
import { readLumaError } from './errors';
import { LUMA_PRICED_KEYS, generationBody, generationJob } from './mapping';

const PROVIDER = 'luma';

export { LumaSettings } from './dto';

/** Creates the `luma` media provider (video, image). */
export function createLumaProvider(): MediaProvider {
  const call = bearerCalls(PROVIDER, LumaSettings);

  async function submit(channel: ChannelAccess, request: MediaRequest, ctx: SubmitContext): Promise<ProviderJob> {
    if (request.kind === 'music') throw new ProviderError({ code: 'invalid_request', retryable: false, message: 'luma does not serve music' });
    const { path, body } = generationBody(request, ctx.callbackUrl);
    const c = call(channel, 'submit', 'POST', path, body);
    const reply = await sendOk(c, readLumaError);
    const gen = parseBody(c, reply, LumaGeneration);
    // The create answer is the generation itself: usually queued, but read it as any other state.
    return generationJob(gen, request, c.secrets) ?? { jobId: gen.id, status: 'queued', progress: null, outputs: [] };
  }

  async function status(channel: ChannelAccess, job: JobRef): Promise<ProviderJob> {
    const c = call(channel, 'status', 'GET', `generations/${encodeURIComponent(job.jobId)}`);
    const reply = await sendOk(c, readLumaError, { notFoundCode: 'not_found' });
    const gen = parseBody(c, reply, LumaGeneration);
    const mapped = generationJob(gen, job.request, c.secrets);
    if (!mapped) throw badResponse(c, `unknown generation state "${gen.state}"`, reply.status);
    return mapped;
  }

  /**
   * Luma's callback is the generation itself, unsigned (our per-job token is the only check): it must be a
   * generation object; the workflow then reads the state from the API rather than trusting the body.
   */
  function readCallback(_channel: ChannelAccess, callback: ProviderCallback): ProviderCallbackResult {
    let body: unknown;
    try {
      body = JSON.parse(callback.rawBody.toString('utf8'));
    } catch {
      throw new ProviderError({ code: 'invalid_request', retryable: false, message: 'luma callback body is not JSON' });
    }
    const gen = LumaGeneration.safeParse(body);
    if (!gen.success) throw new ProviderError({ code: 'invalid_request', retryable: false, message: 'luma callback is not a generation' });
    return { kind: 'job-update', jobId: gen.data.id };
  }

  return {
    id: PROVIDER,
    kinds: ['video', 'image'],
    pricedKeys: LUMA_PRICED_KEYS,
    deliveredFrom: 'the generation\'s `request.duration` echo (`"5s"`), else the requested duration; one image per image generation',
    submit,
    status,
    readCallback,
  };
}
