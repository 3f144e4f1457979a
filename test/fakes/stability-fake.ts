/**
 * A fake Stability Stable Audio API on 127.0.0.1 (root ``): `POST /v2beta/audio/stable-audio-2/text-to-audio`
 * takes **multipart/form-data** only (JSON is a 400) and answers, after the job's planned time, with the
 * audio bytes (`Accept: audio/*`; `audio/mpeg` or `audio/wav` by `output_format`) or, with
 * `Accept: application/json`, `{"audio": "<base64>", "finish_reason", "seed"}`. `Authorization: Bearer sk-...`.
 * Errors are `{"id","name","errors":[...]}`. Its traps: a moderated prompt is a **403** `content_moderation`
 * (not an auth failure), 402 `payment_required` when out of credits, form values are strings.
 *
 * Fault operation: `submit`. Outcomes: succeed, fail (`code` = error name, `status`, default 400).
 */
import type http from 'node:http';
import { FakeProvider, hex, isObject, sleep, type ErrorAnswer, type ErrorKind, type FakeOptions, type FaultSpec, type RouteContext } from './fake-server';
import { audioFile } from './audio-bytes';

const PATH = '/v2beta/audio/stable-audio-2/text-to-audio';
const FIELDS = new Set(['prompt', 'duration', 'model', 'output_format', 'steps', 'cfg_scale', 'seed']);
const MODELS = ['stable-audio-2', 'stable-audio-2.5'];

/** The fake Stability server. `url` is `http://127.0.0.1:P`. */
export class StabilityFake extends FakeProvider {
  protected readonly rootPath = '';
  /** Credits left; 0 makes every request a 402. */
  creditsLeft = Infinity;

  constructor(opts: FakeOptions = {}) {
    super(opts, { apiKey: `sk-${hex(24)}`, outputTtlMs: 60 * 60 * 1000 });
  }

  protected authorized(req: http.IncomingMessage): boolean {
    return req.headers.authorization === `Bearer ${this.apiKey}`;
  }

  protected async route(ctx: RouteContext): Promise<boolean> {
    if (ctx.rec.path !== PATH || ctx.rec.method !== 'POST') return false;
    if (await this.fault(ctx, 'submit')) return true;
    const bad = (status: number, name: string, message: string) => this.json(ctx.res, status, { id: hex(16), name, errors: [message] });
    if (!String(ctx.req.headers['content-type'] ?? '').startsWith('multipart/form-data')) {
      bad(400, 'bad_request', 'Content-Type must be multipart/form-data');
      return true;
    }
    const accept = String(ctx.req.headers.accept ?? '');
    if (accept !== 'audio/*' && accept !== 'application/json') {
      bad(400, 'bad_request', "accept: must be 'audio/*' or 'application/json'");
      return true;
    }
    const form = ctx.rec.body;
    if (!isObject(form)) {
      bad(400, 'bad_request', 'prompt: is required');
      return true;
    }
    const problem = this.check(form);
    if (problem) {
      bad(400, 'bad_request', problem);
      return true;
    }
    if (/forbidden/i.test(String(form.prompt))) {
      bad(403, 'content_moderation', 'Your request was flagged by our content moderation system.');
      return true;
    }
    if (this.creditsLeft <= 0) {
      bad(402, 'payment_required', 'You lack sufficient credits to make this request.');
      return true;
    }
    const seconds = form.duration !== undefined ? Number(form.duration) : 190;
    const id = hex(16);
    const job = this.createJob(id, String(form.model ?? 'stable-audio-2'), form, { media: 'wav', seconds });
    const wait = job.plan.queueMs + job.plan.runMs;
    if (Number.isFinite(wait)) await sleep(wait);
    const outcome = job.plan.outcome;
    if (outcome.kind === 'fail') {
      bad(outcome.status ?? 400, outcome.code ?? 'bad_request', outcome.message ?? 'The generation failed.');
      return true;
    }
    const file = audioFile(String(form.output_format ?? 'mp3'), job.seconds, id);
    if (accept === 'application/json') {
      this.json(ctx.res, 200, { audio: file.bytes.toString('base64'), finish_reason: 'SUCCESS', seed: Number(form.seed ?? 0) });
      return true;
    }
    ctx.res.writeHead(200, { 'content-type': file.contentType, 'content-length': file.bytes.length, 'finish-reason': 'SUCCESS' });
    ctx.res.end(file.bytes);
    return true;
  }

  /** What Stability would refuse in the form, or undefined. */
  private check(form: Record<string, unknown>): string | undefined {
    const unknown = Object.keys(form).find((k) => !FIELDS.has(k));
    if (unknown) return `${unknown}: is not a valid parameter`;
    if (typeof form.prompt !== 'string' || !form.prompt) return 'prompt: is required';
    if (form.model !== undefined && !MODELS.includes(String(form.model))) return `model: must be one of ${MODELS.join(', ')}`;
    if (form.duration !== undefined) {
      const d = Number(form.duration);
      if (!Number.isFinite(d) || d < 1 || d > 190) return 'duration: must be between 1 and 190';
    }
    if (form.output_format !== undefined && !['mp3', 'wav'].includes(String(form.output_format))) return 'output_format: must be mp3 or wav';
    return undefined;
  }

  protected errorAnswer(kind: ErrorKind, fault?: FaultSpec): ErrorAnswer {
    const e = (status: number, name: string, message: string, headers?: Record<string, string>): ErrorAnswer => ({
      status,
      body: { id: hex(16), name: fault?.code ?? name, errors: [fault?.message ?? message] },
      headers,
    });
    switch (kind) {
      case 'unauthorized':
        return e(401, 'unauthorized', 'Missing or invalid API key');
      case 'policy':
        return e(fault?.status ?? 403, 'content_moderation', 'Your request was flagged by our content moderation system.');
      case 'invalid':
        return e(fault?.status ?? 400, 'bad_request', 'duration: must be between 1 and 190');
      case 'rate_limited':
        return e(429, 'rate_limit_exceeded', 'You have exceeded the rate limit of 150 requests within a 10 second period.', this.retryHeaders(fault));
      case 'server_error':
        return e(fault?.status ?? 500, 'internal_error', 'An unexpected server error occurred.');
      case 'unavailable':
        return e(fault?.status ?? 503, 'service_unavailable', 'Service unavailable.', this.retryHeaders(fault));
      case 'not_found':
        return e(404, 'not_found', 'Not found');
    }
  }
}

/** Starts a fake Stability server. */
export async function startStabilityFake(opts: FakeOptions = {}): Promise<StabilityFake> {
  return new StabilityFake(opts).start();
}
