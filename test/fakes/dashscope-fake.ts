/**
 * A fake DashScope (Alibaba Model Studio) API on 127.0.0.1, root `/api/v1`: Wan video
 * (`POST /services/aigc/video-generation/video-synthesis`) and image
 * (`POST /services/aigc/text2image/image-synthesis`) tasks, `GET /tasks/{id}`, `POST /tasks/{id}/cancel`.
 * `Authorization: Bearer <key>`; errors `{"request_id","code","message"}`.
 *
 * Its traps: creation without `X-DashScope-Async: enable` is refused (403 AccessDenied, as these models
 * have no synchronous call); statuses PENDING, RUNNING, SUCCEEDED, FAILED and `CANCELED` (one L); a task
 * id it never issued reads `UNKNOWN` with HTTP 200; cancel works only while PENDING (400
 * UnsupportedOperation once RUNNING: DashScope documents only that PENDING tasks can be cancelled, the
 * exact refusal is unconfirmed, so the adapter never relies on it and reads the task first); unknown models answer 404 ModelNotFound; a FAILED task carries
 * `output.code` (`DataInspectionFailed` for moderation); `Arrearage` (an overdue account) is a 400; an image
 * task can partly succeed (plan `outputs` below `n`: the rest are results with a code); `video_url`s and
 * image URLs expire (24 h by default) and then answer 403; usage reports `video_duration` (plan `seconds`).
 *
 * Fault operations: `submit`, `status`, `cancel`, `file`.
 */
import type http from 'node:http';
import { randomUUID } from 'node:crypto';
import {
  FakeProvider,
  isObject,
  type ErrorAnswer,
  type ErrorKind,
  type FakeJob,
  type FakeOptions,
  type FaultSpec,
  type RouteContext,
} from './fake-server';

const VIDEO_PATH = '/api/v1/services/aigc/video-generation/video-synthesis';
const IMAGE_PATH = '/api/v1/services/aigc/text2image/image-synthesis';
const TASKS = '/api/v1/tasks/';
/** Video models and the durations each accepts. */
const VIDEO_MODELS: Record<string, number[]> = {
  'wan2.6-t2v': [5, 10, 15],
  'wan2.6-i2v': [5, 10, 15],
  'wan2.5-t2v-preview': [5, 10],
  'wan2.5-i2v-preview': [5, 10],
  'wan2.2-t2v-plus': [5],
  'wan2.2-i2v-plus': [5],
  'wan2.2-i2v-flash': [5],
  'wan2.1-t2v-turbo': [5],
  'wan2.1-t2v-plus': [5],
  'wan2.1-i2v-turbo': [5],
  'wan2.1-i2v-plus': [5],
};
const IMAGE_MODELS = new Set(['wan2.5-t2i-preview', 'wan2.2-t2i-flash', 'wan2.2-t2i-plus', 'wan2.1-t2i-turbo', 'wan2.1-t2i-plus', 'wanx2.0-t2i-turbo']);
const T2V_SIZES = new Set(['832*480', '480*832', '624*624', '1280*720', '720*1280', '960*960', '1088*832', '832*1088', '1920*1080', '1080*1920', '1440*1440', '1632*1248', '1248*1632']);
const RESOLUTIONS = ['480P', '720P', '1080P'];

/** The fake DashScope server. `url` is `http://127.0.0.1:P/api/v1`. */
export class DashScopeFake extends FakeProvider {
  protected readonly rootPath = '/api/v1';

  constructor(opts: FakeOptions = {}) {
    super(opts, { apiKey: `sk-${randomUUID().replace(/-/g, '')}`, outputTtlMs: 24 * 60 * 60 * 1000 });
  }

  protected authorized(req: http.IncomingMessage): boolean {
    return req.headers.authorization === `Bearer ${this.apiKey}`;
  }

  protected async route(ctx: RouteContext): Promise<boolean> {
    const { method, path } = ctx.rec;
    if (method === 'POST' && (path === VIDEO_PATH || path === IMAGE_PATH)) {
      if (await this.fault(ctx, 'submit')) return true;
      if (ctx.req.headers['x-dashscope-async'] !== 'enable') {
        this.json(ctx.res, 403, dsError('AccessDenied', 'current user api does not support synchronous calls'));
        return true;
      }
      if (path === VIDEO_PATH) this.createVideo(ctx);
      else this.createImage(ctx);
      return true;
    }
    if (!path.startsWith(TASKS)) return false;
    const rest = decodeURIComponent(path.slice(TASKS.length));
    if (method === 'GET' && !rest.includes('/')) {
      if (await this.fault(ctx, 'status')) return true;
      const job = this.jobs.get(rest);
      // DashScope answers an id it does not know (or no longer knows, after 24 h) as a task in UNKNOWN.
      if (!job) this.json(ctx.res, 200, { request_id: randomUUID(), output: { task_id: rest, task_status: 'UNKNOWN' } });
      else this.json(ctx.res, 200, this.task(job));
      return true;
    }
    if (method === 'POST' && rest.endsWith('/cancel')) {
      if (await this.fault(ctx, 'cancel')) return true;
      const job = this.jobs.get(rest.slice(0, -'/cancel'.length));
      if (!job) {
        this.json(ctx.res, 404, dsError('NotFound', 'Task not found.'));
      } else if (this.phase(job) === 'queued') {
        job.cancelledAt = Date.now();
        this.json(ctx.res, 200, { request_id: randomUUID() });
      } else {
        this.json(ctx.res, 400, dsError('UnsupportedOperation', 'Failed to cancel the task, please confirm if the task is in PENDING status.'));
      }
      return true;
    }
    return false;
  }

  private createVideo(ctx: RouteContext): void {
    const body = ctx.rec.body;
    const bad = (message: string) => this.json(ctx.res, 400, dsError('InvalidParameter', message));
    if (!isObject(body)) return bad('The request body is not valid JSON.');
    const model = body.model;
    if (typeof model !== 'string' || !model) return void this.json(ctx.res, 400, dsError('BadRequest.EmptyModel', 'Required parameter "model" missing from request.'));
    const durations = VIDEO_MODELS[model];
    if (!durations) return void this.json(ctx.res, 404, dsError('ModelNotFound', 'Model not exist.'));
    const input = body.input;
    if (!isObject(input)) return void this.json(ctx.res, 400, dsError('BadRequest.EmptyInput', 'Required input parameter missing from request.'));
    const params = isObject(body.parameters) ? body.parameters : {};
    const i2v = model.includes('i2v');
    if (i2v && typeof input.img_url !== 'string' && typeof input.first_frame_url !== 'string') return bad('The img_url is required for image to video.');
    if (!i2v && (typeof input.prompt !== 'string' || input.prompt.length === 0)) return bad('The prompt is required.');
    if (typeof input.prompt === 'string' && input.prompt.length > 2000) return bad('The prompt is too long.');
    const duration = params.duration ?? 5;
    if (typeof duration !== 'number' || !durations.includes(duration)) return bad(`The duration must be one of ${durations.join(', ')}.`);
    if (params.size !== undefined && (i2v || typeof params.size !== 'string' || !T2V_SIZES.has(params.size))) return bad('The size is invalid.');
    if (params.resolution !== undefined && (typeof params.resolution !== 'string' || !RESOLUTIONS.includes(params.resolution))) return bad('The resolution is invalid.');
    if (params.seed !== undefined && (typeof params.seed !== 'number' || !Number.isInteger(params.seed) || params.seed < 0 || params.seed > 2147483647)) return bad('The seed is invalid.');
    const id = randomUUID();
    const job = this.createJob(id, model, body, { media: 'mp4', seconds: duration });
    job.extra.kind = 'video';
    job.extra.ratio = typeof params.size === 'string' ? params.size : '1280*720';
    job.extra.resolution = typeof params.resolution === 'string' ? params.resolution : '720P';
    this.json(ctx.res, 200, { request_id: randomUUID(), output: { task_id: id, task_status: 'PENDING' } });
  }

  private createImage(ctx: RouteContext): void {
    const body = ctx.rec.body;
    const bad = (message: string) => this.json(ctx.res, 400, dsError('InvalidParameter', message));
    if (!isObject(body)) return bad('The request body is not valid JSON.');
    const model = body.model;
    if (typeof model !== 'string' || !model) return void this.json(ctx.res, 400, dsError('BadRequest.EmptyModel', 'Required parameter "model" missing from request.'));
    if (!IMAGE_MODELS.has(model)) return void this.json(ctx.res, 404, dsError('ModelNotFound', 'Model not exist.'));
    const input = body.input;
    if (!isObject(input) || typeof input.prompt !== 'string' || input.prompt.length === 0) return void this.json(ctx.res, 400, dsError('BadRequest.EmptyInput', 'Required input parameter missing from request.'));
    const params = isObject(body.parameters) ? body.parameters : {};
    const n = params.n ?? 4;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 4) return bad('The n must be between 1 and 4.');
    if (params.size !== undefined) {
      const m = typeof params.size === 'string' ? /^(\d+)\*(\d+)$/.exec(params.size) : null;
      if (!m || [m[1], m[2]].some((v) => Number(v) < 512 || Number(v) > 1440)) return bad('The size is invalid.');
    }
    const id = randomUUID();
    const job = this.createJob(id, model, body, { media: 'png', outputCount: n });
    job.extra.kind = 'image';
    job.extra.n = n;
    this.json(ctx.res, 200, { request_id: randomUUID(), output: { task_id: id, task_status: 'PENDING' } });
  }

  /** The task as `GET /tasks/{id}` returns it. */
  task(job: FakeJob): Record<string, unknown> {
    const phase = this.phase(job);
    const status =
      phase === 'queued' ? 'PENDING' : phase === 'running' ? 'RUNNING' : phase === 'succeeded' ? 'SUCCEEDED' : phase === 'cancelled' ? 'CANCELED' : 'FAILED';
    const times = {
      submit_time: localTime(job.createdAt),
      ...(phase !== 'queued' && phase !== 'cancelled' ? { scheduled_time: localTime(job.startAt) } : {}),
      ...(phase !== 'queued' && phase !== 'running' ? { end_time: localTime(this.finishedAt(job)) } : {}),
    };
    const outcome = job.plan.outcome;
    const output: Record<string, unknown> = { task_id: job.id, task_status: status, ...times };
    let usage: Record<string, unknown> | undefined;
    if (phase === 'failed' && outcome.kind === 'fail') {
      output.code = outcome.code ?? 'InternalError.Algo';
      output.message = outcome.message ?? 'An internal error has occured during execution.';
    }
    if (phase === 'succeeded' && job.extra.kind === 'video') {
      output.video_url = this.outputs(job)[0].url;
      output.orig_prompt = (job.body as { input?: { prompt?: string } }).input?.prompt ?? '';
      output.actual_prompt = output.orig_prompt;
      usage = { video_duration: job.seconds, video_count: 1, video_ratio: job.extra.ratio, SR: Number(String(job.extra.resolution).replace('P', '')) };
    }
    if (phase === 'succeeded' && job.extra.kind === 'image') {
      const made = this.outputs(job);
      const n = Number(job.extra.n);
      const results: Record<string, unknown>[] = made.slice(0, n).map((file) => ({ url: file.url, orig_prompt: '', actual_prompt: '' }));
      for (let i = results.length; i < n; i++) {
        results.push({ code: 'DataInspectionFailed', message: 'Output data may contain inappropriate content.' });
      }
      output.results = results;
      output.task_metrics = { TOTAL: n, SUCCEEDED: Math.min(made.length, n), FAILED: Math.max(0, n - made.length) };
      usage = { image_count: Math.min(made.length, n) };
    }
    return { request_id: randomUUID(), output, ...(usage ? { usage } : {}) };
  }

  protected errorAnswer(kind: ErrorKind, fault?: FaultSpec): ErrorAnswer {
    const e = (status: number, code: string, message: string, headers?: Record<string, string>): ErrorAnswer => ({
      status: fault?.status ?? status,
      body: dsError(fault?.code ?? code, fault?.message ?? message),
      headers,
    });
    switch (kind) {
      case 'unauthorized':
        return { status: 401, body: dsError('InvalidApiKey', 'Invalid API-key provided.') };
      case 'policy':
        return e(400, 'DataInspectionFailed', 'Input data may contain inappropriate content.');
      case 'invalid':
        return e(400, 'InvalidParameter', 'The duration must be one of 5, 10.');
      case 'rate_limited':
        return e(429, 'Throttling.RateQuota', 'Requests rate limit exceeded, please try again later.', this.retryHeaders(fault));
      case 'server_error':
        return e(500, 'InternalError', 'An internal error has occured, please try again later or contact service support.');
      case 'unavailable':
        return e(503, 'ServiceUnavailable', 'The service is temporarily unavailable.', this.retryHeaders(fault));
      case 'not_found':
        return e(404, 'NotFound', 'Not Found.');
    }
  }
}

/** Starts a fake DashScope server. */
export async function startDashScopeFake(opts: FakeOptions = {}): Promise<DashScopeFake> {
  return new DashScopeFake(opts).start();
}

/** DashScope's error envelope. */
function dsError(code: string, message: string): Record<string, unknown> {
  return { request_id: randomUUID(), code, message };
}

/** `2025-07-27 21:05:15.212`: DashScope's timestamps carry no time zone (the server's, here UTC+8). */
function localTime(ms: number): string {
  return new Date(ms + 8 * 3600_000).toISOString().replace('T', ' ').replace('Z', '');
}
