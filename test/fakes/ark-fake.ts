/**
 * A fake Ark (BytePlus ModelArk / Volcengine Ark) content-generation API on 127.0.0.1, root `/api/v3`:
 * `POST /contents/generations/tasks` → `{id:"cgt-..."}`, `GET .../tasks/{id}` (statuses queued, running,
 * succeeded, failed, cancelled, expired; unix seconds; no progress), `GET .../tasks` (list) and
 * `DELETE .../tasks/{id}` (cancels a queued task, refuses a running or cancelled one, deletes the record of
 * a finished one). `Authorization: Bearer <key>`; errors `{"error":{"code","message","param","type"}}`.
 * `video_url`s are signed URLs that expire (24 h by default) and then answer 403.
 *
 * Fault operations: `submit`, `status`, `cancel`, `file`. Outcomes: succeed, fail, expire.
 */
import type http from 'node:http';
import { randomUUID } from 'node:crypto';
import {
  FakeProvider,
  base32,
  hex,
  isObject,
  type ErrorAnswer,
  type ErrorKind,
  type FakeJob,
  type FakeOptions,
  type FaultSpec,
  type JobOutcome,
  type RouteContext,
} from './fake-server';

const TASKS = '/api/v3/contents/generations/tasks';
const BODY_FIELDS = new Set([
  'model', 'content', 'callback_url', 'return_last_frame', 'service_tier', 'execution_expires_after',
  'generate_audio', 'draft', 'resolution', 'ratio', 'duration', 'frames', 'seed', 'camera_fixed', 'watermark',
  'safety_identifier', 'priority', 'tools',
]);
const RESOLUTIONS = ['480p', '720p', '1080p'];
const RATIOS = ['16:9', '4:3', '1:1', '3:4', '9:16', '21:9', 'adaptive'];
const IMAGE_ROLES = ['first_frame', 'last_frame', 'reference_image'];
const PIXELS: Record<string, [number, number]> = { '480p': [864, 480], '720p': [1280, 720], '1080p': [1920, 1080] };

/** Options of the Ark fake. */
export interface ArkFakeOptions extends FakeOptions {
  /** Queued tasks allowed per account before create answers 429 (Ark's limit is 120). */
  maxQueued?: number;
}

/** The fake Ark server. `url` is `http://127.0.0.1:P/api/v3`. */
export class ArkFake extends FakeProvider {
  protected readonly rootPath = '/api/v3';
  protected override supportedOutcomes: ReadonlySet<JobOutcome['kind']> = new Set(['succeed', 'fail', 'expire']);
  /** Queued tasks allowed before create answers 429. */
  maxQueued: number;

  constructor(opts: ArkFakeOptions = {}) {
    super(opts, { apiKey: randomUUID(), outputTtlMs: 24 * 60 * 60 * 1000 });
    this.maxQueued = opts.maxQueued ?? 120;
  }

  protected authorized(req: http.IncomingMessage): boolean {
    return req.headers.authorization === `Bearer ${this.apiKey}`;
  }

  protected async route(ctx: RouteContext): Promise<boolean> {
    const { method, path } = ctx.rec;
    if (path === TASKS && method === 'POST') {
      await this.create(ctx);
      return true;
    }
    if (path === TASKS && method === 'GET') {
      if (await this.fault(ctx, 'status')) return true;
      const status = ctx.url.searchParams.get('filter.status');
      const items = [...this.jobs.values()].reverse().map((j) => this.task(j)).filter((t) => !status || t.status === status);
      this.json(ctx.res, 200, { items, total: items.length });
      return true;
    }
    if (!path.startsWith(`${TASKS}/`)) return false;
    const id = decodeURIComponent(path.slice(TASKS.length + 1));
    if (id.includes('/')) return false;
    if (method === 'GET') {
      if (await this.fault(ctx, 'status')) return true;
      const job = this.jobs.get(id);
      if (!job) return this.notFound(ctx, id);
      this.json(ctx.res, 200, this.task(job));
      return true;
    }
    if (method === 'DELETE') {
      if (await this.fault(ctx, 'cancel')) return true;
      const job = this.jobs.get(id);
      if (!job) return this.notFound(ctx, id);
      const phase = this.phase(job);
      if (phase === 'queued') {
        job.cancelledAt = Date.now();
        this.json(ctx.res, 200, {});
      } else if (phase === 'running' || phase === 'cancelled') {
        this.json(ctx.res, 400, arkError('InvalidAction.TaskStatus', `The task ${id} is ${phase} and can not be cancelled or deleted.`, 'id', 'BadRequest'));
      } else {
        // Ark deletes the record of a finished task: it can no longer be read.
        this.jobs.delete(id);
        this.json(ctx.res, 200, {});
      }
      return true;
    }
    return false;
  }

  private async create(ctx: RouteContext): Promise<void> {
    if (await this.fault(ctx, 'submit')) return;
    const body = ctx.rec.body;
    const bad = (param: string, message?: string) =>
      this.json(ctx.res, 400, arkError('InvalidParameter', message ?? `The parameter \`${param}\` specified in the request is not valid.`, param, 'BadRequest'));
    if (!isObject(body)) return bad('body', 'The request body is not valid JSON.');
    if (typeof body.model !== 'string' || !body.model) {
      this.json(ctx.res, 400, arkError('MissingParameter', 'The request failed because it is missing one or multiple required parameters.', 'model', 'BadRequest'));
      return;
    }
    const unknown = Object.keys(body).find((k) => !BODY_FIELDS.has(k));
    if (unknown) return bad(unknown, `The parameter \`${unknown}\` specified in the request is not supported.`);
    if (!Array.isArray(body.content) || body.content.length === 0) return bad('content');
    for (const item of body.content) {
      if (!isObject(item)) return bad('content');
      if (item.type === 'text') {
        if (typeof item.text !== 'string') return bad('content.text');
      } else if (item.type === 'image_url') {
        if (!isObject(item.image_url) || typeof item.image_url.url !== 'string') return bad('content.image_url');
        if (item.role !== undefined && !IMAGE_ROLES.includes(String(item.role))) return bad('content.role');
      } else if (item.type === 'video_url') {
        if (!isObject(item.video_url) || typeof item.video_url.url !== 'string') return bad('content.video_url');
      } else if (item.type === 'audio_url') {
        if (!isObject(item.audio_url) || typeof item.audio_url.url !== 'string') return bad('content.audio_url');
      } else {
        return bad('content.type');
      }
    }
    const duration = body.duration;
    if (duration !== undefined && (typeof duration !== 'number' || !Number.isInteger(duration) || !(duration === -1 || (duration >= 2 && duration <= 15)))) {
      return bad('duration');
    }
    if (body.resolution !== undefined && !RESOLUTIONS.includes(String(body.resolution))) return bad('resolution');
    if (body.ratio !== undefined && !RATIOS.includes(String(body.ratio))) return bad('ratio');
    if (body.seed !== undefined && (typeof body.seed !== 'number' || !Number.isInteger(body.seed) || body.seed < -1 || body.seed > 4294967295)) {
      return bad('seed');
    }
    const queued = [...this.jobs.values()].filter((j) => this.phase(j) === 'queued').length;
    if (queued >= this.maxQueued) {
      this.json(ctx.res, 429, arkError('RateLimitExceeded.QueuedTasksExceeded', `The number of queued tasks has reached the limit of ${this.maxQueued}.`, '', 'TooManyRequests'));
      return;
    }
    const seconds = typeof duration === 'number' && duration > 0 ? duration : 5;
    const id = `cgt-${stamp(new Date())}-${base32(5)}`;
    const job = this.createJob(id, body.model, body, { media: 'mp4', seconds });
    job.extra.resolution = typeof body.resolution === 'string' ? body.resolution : '720p';
    job.extra.ratio = typeof body.ratio === 'string' ? body.ratio : '16:9';
    job.extra.seed = typeof body.seed === 'number' && body.seed >= 0 ? body.seed : Math.floor(Math.random() * 2 ** 31);
    this.json(ctx.res, 200, { id });
  }

  /** The task object as Ark returns it. */
  task(job: FakeJob): Record<string, unknown> {
    const now = Date.now();
    const phase = this.phase(job, now);
    const status = phase === 'running' ? 'running' : phase;
    const updated =
      phase === 'queued' ? job.createdAt : phase === 'running' ? job.startAt : this.finishedAt(job);
    const outcome = job.plan.outcome;
    const [w, h] = PIXELS[String(job.extra.resolution)] ?? PIXELS['720p'];
    const tokens = Math.round((w * h * 24 * job.seconds) / 1024);
    return {
      id: job.id,
      model: job.model,
      status,
      error:
        phase === 'failed' && outcome.kind === 'fail'
          ? { code: outcome.code ?? 'InternalServiceError', message: outcome.message ?? 'The service encountered an unexpected internal error.' }
          : null,
      ...(phase === 'succeeded' ? { content: { video_url: this.outputs(job)[0].url } } : {}),
      ...(phase === 'succeeded' ? { usage: { completion_tokens: tokens, total_tokens: tokens } } : {}),
      created_at: Math.floor(job.createdAt / 1000),
      updated_at: Math.floor(updated / 1000),
      seed: job.extra.seed,
      resolution: job.extra.resolution,
      ratio: job.extra.ratio,
      duration: job.seconds,
      framespersecond: 24,
      service_tier: 'default',
      execution_expires_after: 172800,
    };
  }

  private notFound(ctx: RouteContext, id: string): true {
    this.json(ctx.res, 404, arkError('ResourceNotFound', `The specified task ${id} is not found.`, 'id', 'NotFound'));
    return true;
  }

  protected errorAnswer(kind: ErrorKind, fault?: FaultSpec): ErrorAnswer {
    const e = (status: number, code: string, message: string, param: string, type: string, headers?: Record<string, string>): ErrorAnswer => ({
      status,
      body: arkError(fault?.code ?? code, fault?.message ?? message, param, type),
      headers,
    });
    switch (kind) {
      case 'unauthorized':
        return e(401, 'AuthenticationError', 'The API key or AK/SK in the request is missing or invalid.', '', 'Unauthorized');
      case 'policy':
        return e(fault?.status ?? 400, 'InputTextSensitiveContentDetected', 'The request failed because the input text may contain sensitive information.', '', 'BadRequest');
      case 'invalid':
        return e(fault?.status ?? 400, 'InvalidParameter', 'The parameter `duration` specified in the request is not valid.', 'duration', 'BadRequest');
      case 'rate_limited':
        return e(429, 'RateLimitExceeded.EndpointRPMExceeded', 'The request has exceeded the RPM rate limit of the endpoint. Please try again later.', '', 'TooManyRequests', this.retryHeaders(fault));
      case 'server_error':
        return e(fault?.status ?? 500, 'InternalServiceError', 'The service encountered an unexpected internal error.', '', 'InternalServerError');
      case 'unavailable':
        return e(fault?.status ?? 503, 'ServiceUnavailable', 'The service is temporarily unavailable. Please try again later.', '', 'ServiceUnavailable', this.retryHeaders(fault));
      case 'not_found':
        return e(404, 'NotFound', 'The requested resource was not found.', '', 'NotFound');
    }
  }
}

/** Starts a fake Ark server. */
export async function startArkFake(opts: ArkFakeOptions = {}): Promise<ArkFake> {
  return new ArkFake(opts).start();
}

/** Ark's error body; every message ends with a request id, as Ark's do. */
function arkError(code: string, message: string, param: string, type: string): Record<string, unknown> {
  return { error: { code, message: `${message} Request id: 0217${hex(20)}`, param, type } };
}

/** `20250331175019` (UTC), as in `cgt-20250331175019-68d9t`. */
function stamp(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}
