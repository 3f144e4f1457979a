/**
 * A fake ElevenLabs music API on 127.0.0.1 (root ``): `POST /v1/music?output_format=...` answers, after the
 * job's planned time, with the audio bytes themselves (`audio/mpeg` for `mp3_*`, a WAV for the others in
 * this fake), no JSON and no job id. `xi-api-key` header. Errors are `{"detail":{"status","message"}}`,
 * or FastAPI's `{"detail":[{loc,msg,type}]}` on 422. Its traps: an exhausted balance is `quota_exceeded`
 * as a **401**, concurrent requests past the plan's limit get 429 `too_many_concurrent_requests`, and a
 * 200 is bytes, never JSON.
 *
 * Fault operation: `submit`. Outcomes: succeed, fail (`code` = detail.status, `status` = the HTTP status,
 * default 400: a synchronous protocol fails in the answer).
 */
import type http from 'node:http';
import { FakeProvider, hex, isObject, sleep, type ErrorAnswer, type ErrorKind, type FakeOptions, type FaultSpec, type RouteContext } from './fake-server';
import { audioFile } from './audio-bytes';

const FIELDS = new Set([
  'prompt', 'composition_plan', 'music_length_ms', 'model_id', 'force_instrumental', 'seed', 'respect_sections_durations',
  'store_for_inpainting', 'sign_with_c2pa', 'finetune_id', 'finetune_strength',
]);
const MODELS = ['music_v1', 'music_v2'];
const FORMAT = /^(auto|mp3_\d+_\d+|pcm_\d+|ulaw_8000|alaw_8000|opus_48000_\d+)$/;

/** Options of the ElevenLabs fake. */
export interface ElevenLabsFakeOptions extends FakeOptions {
  /** Requests generating at once before 429 `too_many_concurrent_requests` (Creator plan: 5). */
  maxConcurrent?: number;
}

/** The fake ElevenLabs server. `url` is `http://127.0.0.1:P`. */
export class ElevenLabsFake extends FakeProvider {
  protected readonly rootPath = '';
  maxConcurrent: number;
  /** Credits left; 0 makes every request a 401 `quota_exceeded`. */
  quotaLeft = Infinity;
  private generating = 0;

  constructor(opts: ElevenLabsFakeOptions = {}) {
    super(opts, { apiKey: `sk_${hex(24)}`, outputTtlMs: 60 * 60 * 1000 });
    this.maxConcurrent = opts.maxConcurrent ?? 5;
  }

  protected authorized(req: http.IncomingMessage): boolean {
    return req.headers['xi-api-key'] === this.apiKey;
  }

  protected async route(ctx: RouteContext): Promise<boolean> {
    if (ctx.rec.path !== '/v1/music' || ctx.rec.method !== 'POST') return false;
    if (await this.fault(ctx, 'submit')) return true;
    const body = ctx.rec.body;
    const invalid = (loc: string, msg: string) => this.json(ctx.res, 422, { detail: [{ loc: ['body', loc], msg, type: 'value_error' }] });
    const format = ctx.url.searchParams.get('output_format') ?? 'auto';
    if (!FORMAT.test(format)) {
      this.json(ctx.res, 422, { detail: [{ loc: ['query', 'output_format'], msg: 'Input should be a valid output format', type: 'enum' }] });
      return true;
    }
    if (!isObject(body)) {
      invalid('body', 'Input should be a valid dictionary');
      return true;
    }
    const unknown = Object.keys(body).find((k) => !FIELDS.has(k));
    if (unknown) { invalid(unknown, 'Extra inputs are not permitted'); return true; }
    if ((body.prompt === undefined) === (body.composition_plan === undefined)) { invalid('prompt', 'Exactly one of prompt or composition_plan is required'); return true; }
    const model = body.model_id ?? 'music_v1';
    if (!MODELS.includes(String(model))) { invalid('model_id', `Input should be ${MODELS.join(' or ')}`); return true; }
    const ms = body.music_length_ms;
    if (ms !== undefined && (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 3000 || ms > 600_000)) {
      invalid('music_length_ms', 'Input should be between 3000 and 600000');
      return true;
    }
    if (this.quotaLeft <= 0) {
      this.json(ctx.res, 401, { detail: { status: 'quota_exceeded', message: 'This request exceeds your quota of 10000. You have 0 credits remaining.' } });
      return true;
    }
    if (this.generating >= this.maxConcurrent) {
      this.json(ctx.res, 429, { detail: { status: 'too_many_concurrent_requests', message: 'Too many concurrent requests for your subscription.' } });
      return true;
    }
    const seconds = typeof ms === 'number' ? ms / 1000 : 30;
    const id = `music_${hex(8)}`;
    const job = this.createJob(id, String(model), body, { media: 'wav', seconds });
    this.generating++;
    try {
      const wait = job.plan.queueMs + job.plan.runMs;
      if (Number.isFinite(wait)) await sleep(wait);
    } finally {
      this.generating--;
    }
    const outcome = job.plan.outcome;
    if (outcome.kind === 'fail') {
      this.json(ctx.res, outcome.status ?? 400, { detail: { status: outcome.code ?? 'bad_prompt', message: outcome.message ?? 'The prompt references a copyrighted artist.', prompt_suggestion: 'an upbeat indie pop song' } });
      return true;
    }
    const file = audioFile(format, job.seconds, id);
    ctx.res.writeHead(200, { 'content-type': file.contentType, 'transfer-encoding': 'chunked', 'song-id': id });
    ctx.res.end(file.bytes);
    return true;
  }

  protected errorAnswer(kind: ErrorKind, fault?: FaultSpec): ErrorAnswer {
    const e = (status: number, code: string, message: string, headers?: Record<string, string>): ErrorAnswer => ({
      status,
      body: { detail: { status: fault?.code ?? code, message: fault?.message ?? message } },
      headers,
    });
    switch (kind) {
      case 'unauthorized':
        return e(401, 'invalid_api_key', 'Invalid API key');
      case 'policy':
        return e(fault?.status ?? 400, 'bad_prompt', 'Your prompt references a copyrighted artist.');
      case 'invalid':
        return { status: fault?.status ?? 422, body: { detail: [{ loc: ['body', 'music_length_ms'], msg: fault?.message ?? 'Input should be between 3000 and 600000', type: 'value_error' }] } };
      case 'rate_limited':
        return e(429, 'system_busy', 'The system is experiencing heavy traffic, please try again later.', this.retryHeaders(fault));
      case 'server_error':
        return e(fault?.status ?? 500, 'internal_error', 'An internal error occurred.');
      case 'unavailable':
        return e(fault?.status ?? 503, 'service_unavailable', 'Service unavailable.', this.retryHeaders(fault));
      case 'not_found':
        return { status: 404, body: { detail: 'Not Found' } };
    }
  }
}

/** Starts a fake ElevenLabs server. */
export async function startElevenLabsFake(opts: ElevenLabsFakeOptions = {}): Promise<ElevenLabsFake> {
  return new ElevenLabsFake(opts).start();
}
