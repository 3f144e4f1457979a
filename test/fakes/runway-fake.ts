/**
 * A fake Runway API on 127.0.0.1, root `/v1`: `POST /image_to_video`, `/text_to_video`, `/text_to_image`
 * → `{id:"<uuid>"}`, `GET /tasks/{id}` (PENDING, THROTTLED past the concurrency limit, RUNNING with
 * `progress` 0..1, SUCCEEDED with `output` URLs, FAILED with `failure` + `failureCode`, CANCELLED) and
 * `DELETE /tasks/{id}` (cancels a waiting or running task, deletes a finished one; either way it can never
 * be read again: 404). `Authorization: Bearer key_<128 hex>` and a dated `X-Runway-Version` are required;
 * errors are `{"error":"..."}` (with `issues` for validation). Output URLs expire (24 h by default).
 *
 * Fault operations: `submit`, `status`, `cancel`, `file`. Outcomes: succeed, fail (`code` = failureCode).
 */
import type http from 'node:http';
import { randomUUID } from 'node:crypto';
import {
  FakeProvider,
  hex,
  isObject,
  type ErrorAnswer,
  type ErrorKind,
  type FakeJob,
  type FakeOptions,
  type FaultSpec,
  type RouteContext,
} from './fake-server';

const VIDEO_MODELS: Record<string, { durations: number[]; imageOnly?: boolean }> = {
  'gen4.5': { durations: [2, 3, 4, 5, 6, 7, 8, 9, 10] },
  gen4_turbo: { durations: [5, 10], imageOnly: true },
  'veo3.1': { durations: [4, 6, 8] },
  'veo3.1_fast': { durations: [4, 6, 8] },
  veo3: { durations: [8] },
};
const IMAGE_MODELS = new Set(['gen4_image', 'gen4_image_turbo', 'gemini_image3_pro']);
const VIDEO_FIELDS = new Set(['model', 'promptText', 'promptImage', 'ratio', 'duration', 'seed', 'audio', 'negativePrompt', 'contentModeration']);
const IMAGE_FIELDS = new Set(['model', 'promptText', 'ratio', 'seed', 'referenceImages', 'outputCount', 'contentModeration']);
const RATIO = /^\d{3,4}:\d{3,4}$/;

/** Options of the Runway fake. */
export interface RunwayFakeOptions extends FakeOptions {
  /** Tasks running at once per account; the others wait as THROTTLED (Tier 1 allows 1 or 2). */
  maxConcurrent?: number;
}

/** The fake Runway server. `url` is `http://127.0.0.1:P/v1`. */
export class RunwayFake extends FakeProvider {
  protected readonly rootPath = '/v1';
  maxConcurrent: number;

  constructor(opts: RunwayFakeOptions = {}) {
    super(opts, { apiKey: `key_${hex(64)}`, outputTtlMs: 24 * 60 * 60 * 1000 });
    this.maxConcurrent = opts.maxConcurrent ?? 100;
  }

  protected authorized(req: http.IncomingMessage): boolean {
    return req.headers.authorization === `Bearer ${this.apiKey}`;
  }

  protected async route(ctx: RouteContext): Promise<boolean> {
    const { method, path } = ctx.rec;
    const version = ctx.req.headers['x-runway-version'];
    if (typeof version !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(version)) {
      this.json(ctx.res, 400, { error: 'You must provide a valid X-Runway-Version header.' });
      return true;
    }
    if (method === 'POST' && ['/v1/image_to_video', '/v1/text_to_video', '/v1/text_to_image'].includes(path)) {
      await this.create(ctx, path.slice('/v1/'.length));
      return true;
    }
    if (!path.startsWith('/v1/tasks/')) return false;
    const id = decodeURIComponent(path.slice('/v1/tasks/'.length));
    // A cancelled or deleted task is gone for good, like an unknown one.
    const found = this.jobs.get(id);
    const job = found && !found.extra.deleted ? found : undefined;
    if (method === 'GET') {
      if (await this.fault(ctx, 'status')) return true;
      if (!job) return this.notFound(ctx);
      this.json(ctx.res, 200, this.task(job));
      return true;
    }
    if (method === 'DELETE') {
      if (await this.fault(ctx, 'cancel')) return true;
      if (!job) return this.notFound(ctx);
      // Waiting or running: cancelled; finished: deleted. Neither can be read again.
      const phase = this.phase(job);
      if (phase === 'queued' || phase === 'running') job.cancelledAt = Date.now();
      job.extra.deleted = true;
      ctx.res.writeHead(204);
      ctx.res.end();
      return true;
    }
    return false;
  }

  private async create(ctx: RouteContext, endpoint: string): Promise<void> {
    if (await this.fault(ctx, 'submit')) return;
    const body = ctx.rec.body;
    const invalid = (field: string, message: string) =>
      this.json(ctx.res, 400, { error: 'Validation of body failed', issues: [{ path: [field], message }] });
    if (!isObject(body)) return invalid('body', 'Expected object');
    const image = endpoint === 'text_to_image';
    const model = String(body.model ?? '');
    const spec = VIDEO_MODELS[model];
    if (image ? !IMAGE_MODELS.has(model) : !spec) return invalid('model', `Invalid enum value. Received '${model}'`);
    const unknown = Object.keys(body).find((k) => !(image ? IMAGE_FIELDS : VIDEO_FIELDS).has(k));
    if (unknown) return invalid(unknown, `Unrecognized key: '${unknown}'`);
    if (body.ratio !== undefined && !RATIO.test(String(body.ratio))) return invalid('ratio', 'Invalid ratio');
    if (body.promptText !== undefined && (typeof body.promptText !== 'string' || body.promptText.length > 1000)) return invalid('promptText', 'Too long');
    if (endpoint === 'image_to_video') {
      const p = body.promptImage;
      const ok = typeof p === 'string' || (Array.isArray(p) && p.every((x) => isObject(x) && typeof x.uri === 'string' && ['first', 'last'].includes(String(x.position))));
      if (!ok) return invalid('promptImage', 'Expected a URI or an array of {uri, position}');
    } else if (endpoint === 'text_to_video') {
      if (spec?.imageOnly) return invalid('model', `${model} requires promptImage`);
      if (typeof body.promptText !== 'string' || !body.promptText) return invalid('promptText', 'Required');
    }
    let seconds = 0;
    if (!image) {
      const d = body.duration;
      if (d === undefined && model === 'gen4.5') return invalid('duration', 'Required');
      if (d !== undefined && (typeof d !== 'number' || !spec!.durations.includes(d))) return invalid('duration', `Must be one of ${spec!.durations.join(', ')}`);
      seconds = typeof d === 'number' ? d : spec!.durations[spec!.durations.length - 1];
    }
    const count = image && body.outputCount !== undefined ? Number(body.outputCount) : 1;
    const id = randomUUID();
    this.createJob(id, model, body, { media: image ? 'png' : 'mp4', outputCount: count, ...(image ? {} : { seconds }) });
    this.json(ctx.res, 200, { id });
  }

  /** Jobs that are running now and not over the concurrency limit; later arrivals wait as THROTTLED. */
  private throttled(job: FakeJob): boolean {
    const active = [...this.jobs.values()].filter((j) => !j.extra.deleted && this.phase(j) === 'running');
    return active.indexOf(job) >= this.maxConcurrent;
  }

  /** The task object as Runway returns it. */
  task(job: FakeJob): Record<string, unknown> {
    const base = { id: job.id, createdAt: new Date(job.createdAt).toISOString() };
    const phase = this.phase(job);
    const outcome = job.plan.outcome;
    switch (phase) {
      case 'queued':
        return { ...base, status: 'PENDING' };
      case 'running':
        if (this.throttled(job)) return { ...base, status: 'THROTTLED' };
        return { ...base, status: 'RUNNING', progress: this.progress(job) / 100 };
      case 'succeeded':
        return { ...base, status: 'SUCCEEDED', output: this.outputs(job).map((f) => f.url) };
      case 'cancelled':
        return { ...base, status: 'CANCELLED' };
      default:
        return {
          ...base,
          status: 'FAILED',
          failure: outcome.kind === 'fail' && outcome.message ? outcome.message : 'An unexpected error occurred.',
          failureCode: outcome.kind === 'fail' && outcome.code ? outcome.code : 'INTERNAL',
        };
    }
  }

  private notFound(ctx: RouteContext): true {
    this.json(ctx.res, 404, { error: 'Not found' });
    return true;
  }

  protected errorAnswer(kind: ErrorKind, fault?: FaultSpec): ErrorAnswer {
    const e = (status: number, error: string, headers?: Record<string, string>): ErrorAnswer => ({ status, body: { error: fault?.message ?? error }, headers });
    switch (kind) {
      case 'unauthorized':
        return e(401, 'Invalid API key. Make sure you are using a valid key from the developer portal.');
      case 'policy':
        return e(fault?.status ?? 400, 'Your prompt was flagged by our content moderation system.');
      case 'invalid':
        return { status: fault?.status ?? 400, body: { error: fault?.message ?? 'Validation of body failed', issues: [{ path: ['duration'], message: 'Invalid duration' }] } };
      case 'rate_limited':
        return e(429, 'You have exceeded your daily task limit for this model.', this.retryHeaders(fault));
      case 'server_error':
        return e(fault?.status ?? 500, 'An unexpected error occurred.');
      case 'unavailable':
        return e(fault?.status ?? 503, 'Service temporarily unavailable.', this.retryHeaders(fault));
      case 'not_found':
        return e(404, 'Not found');
    }
  }
}

/** Starts a fake Runway server. */
export async function startRunwayFake(opts: RunwayFakeOptions = {}): Promise<RunwayFake> {
  return new RunwayFake(opts).start();
}
