/**
 * A fake Luma Dream Machine API on 127.0.0.1, root `/dream-machine/v1`: `POST /generations/video` and
 * `/generations/image` → 201 with the generation, `GET /generations/{id}` (`state` queued → dreaming →
 * completed | failed with `failure_reason`; no progress), `DELETE /generations/{id}` (deletes the record;
 * 204). `Authorization: Bearer luma-...`; errors FastAPI-style `{"detail":"..."}` (a list on 422). Its
 * traps: `duration` is a string `"5s"`/`"9s"` (a number is refused), the state is spelled `dreaming`,
 * `resolution` and model ids are checked, asset URLs expire, and when the body has `callback_url` the fake
 * POSTs the whole generation there when it starts dreaming, completes or fails (up to 3 tries unless the
 * answer is 200; unsigned, as Luma's are) unless `sendCallbacks` is false.
 *
 * Fault operations: `submit`, `status`, `file`. Outcomes: succeed, fail (`message` = failure_reason).
 */
import type http from 'node:http';
import { randomUUID } from 'node:crypto';
import {
  FakeProvider,
  isObject,
  sleep,
  type ErrorAnswer,
  type ErrorKind,
  type FakeJob,
  type FakeOptions,
  type FaultSpec,
  type RouteContext,
} from './fake-server';

const ROOT = '/dream-machine/v1';
const VIDEO_MODELS = ['ray-2', 'ray-flash-2', 'ray-1-6'];
const IMAGE_MODELS = ['photon-1', 'photon-flash-1'];
const RATIOS = ['1:1', '16:9', '9:16', '4:3', '3:4', '21:9', '9:21'];
const RESOLUTIONS = ['540p', '720p', '1080p', '4k'];
const DURATIONS = ['5s', '9s'];
const VIDEO_FIELDS = new Set(['model', 'prompt', 'aspect_ratio', 'resolution', 'duration', 'loop', 'keyframes', 'concepts', 'callback_url', 'generation_type']);
const IMAGE_FIELDS = new Set(['model', 'prompt', 'aspect_ratio', 'format', 'image_ref', 'style_ref', 'character_ref', 'modify_image_ref', 'sync', 'sync_timeout', 'callback_url', 'generation_type']);

/** One callback POST the fake made, and how it was answered. */
export interface LumaCallbackSent {
  url: string;
  state: string;
  status: number | 'error';
}

/** The fake Luma server. `url` is `http://127.0.0.1:P/dream-machine/v1`. */
export class LumaFake extends FakeProvider {
  protected readonly rootPath = ROOT;
  /** Whether generations with a `callback_url` call it. */
  sendCallbacks = true;
  /** Every callback POST made. */
  readonly callbackLog: LumaCallbackSent[] = [];
  private readonly watchers = new Set<NodeJS.Timeout>();

  constructor(opts: FakeOptions = {}) {
    super(opts, { apiKey: `luma-${randomUUID()}`, outputTtlMs: 60 * 60 * 1000 });
  }

  protected authorized(req: http.IncomingMessage): boolean {
    return req.headers.authorization === `Bearer ${this.apiKey}`;
  }

  override async close(): Promise<void> {
    for (const timer of this.watchers) clearInterval(timer);
    this.watchers.clear();
    await super.close();
  }

  protected async route(ctx: RouteContext): Promise<boolean> {
    const { method, path } = ctx.rec;
    if (method === 'POST' && (path === `${ROOT}/generations/video` || path === `${ROOT}/generations/image`)) {
      await this.create(ctx, path.endsWith('/image') ? 'image' : 'video');
      return true;
    }
    if (!path.startsWith(`${ROOT}/generations/`)) return false;
    const id = decodeURIComponent(path.slice(`${ROOT}/generations/`.length));
    const found = this.jobs.get(id);
    const job = found && !found.extra.deleted ? found : undefined;
    if (method === 'GET') {
      if (await this.fault(ctx, 'status')) return true;
      if (!job) return this.notFound(ctx);
      this.json(ctx.res, 200, this.generation(job));
      return true;
    }
    if (method === 'DELETE') {
      if (!job) return this.notFound(ctx);
      job.extra.deleted = true;
      ctx.res.writeHead(204);
      ctx.res.end();
      return true;
    }
    return false;
  }

  private async create(ctx: RouteContext, type: 'video' | 'image'): Promise<void> {
    if (await this.fault(ctx, 'submit')) return;
    const body = ctx.rec.body;
    const invalid = (loc: string, msg: string) => this.json(ctx.res, 422, { detail: [{ loc: ['body', loc], msg, type: 'value_error' }] });
    if (!isObject(body)) return invalid('body', 'Input should be a valid dictionary');
    const unknown = Object.keys(body).find((k) => !(type === 'image' ? IMAGE_FIELDS : VIDEO_FIELDS).has(k));
    if (unknown) return invalid(unknown, 'Extra inputs are not permitted');
    const models = type === 'image' ? IMAGE_MODELS : VIDEO_MODELS;
    if (!models.includes(String(body.model))) return invalid('model', `Input should be ${models.map((m) => `'${m}'`).join(', ')}`);
    if (body.aspect_ratio !== undefined && !RATIOS.includes(String(body.aspect_ratio))) return invalid('aspect_ratio', 'Invalid aspect ratio');
    if (type === 'video') {
      if (body.resolution !== undefined && !RESOLUTIONS.includes(String(body.resolution))) return invalid('resolution', 'Invalid resolution');
      if (body.duration !== undefined && (typeof body.duration !== 'string' || !DURATIONS.includes(body.duration))) return invalid('duration', "Input should be '5s' or '9s'");
      if (body.keyframes !== undefined) {
        const frames = body.keyframes;
        const ok = isObject(frames) && Object.entries(frames).every(([k, v]) => ['frame0', 'frame1'].includes(k) && isObject(v) && ((v.type === 'image' && typeof v.url === 'string') || (v.type === 'generation' && typeof v.id === 'string')));
        if (!ok) return invalid('keyframes', 'Invalid keyframes');
      }
    }
    if (typeof body.prompt === 'string' && /forbidden/i.test(body.prompt)) {
      this.json(ctx.res, 400, { detail: 'Prompt not allowed because it violates our content moderation policy' });
      return;
    }
    const id = randomUUID();
    const seconds = type === 'video' ? Number(String(body.duration ?? '5s').replace('s', '')) : undefined;
    const job = this.createJob(id, String(body.model), body, { media: type === 'image' ? 'png' : 'mp4', ...(seconds ? { seconds } : {}) });
    job.extra.type = type;
    if (typeof body.callback_url === 'string') this.watch(job, body.callback_url);
    this.json(ctx.res, 201, this.generation(job));
  }

  /** Calls `callbackUrl` on each state change after queued, as Luma does. */
  private watch(job: FakeJob, callbackUrl: string): void {
    let last = 'queued';
    const timer = setInterval(() => {
      const state = String(this.generation(job).state);
      if (state === last) return;
      last = state;
      if (state === 'completed' || state === 'failed') {
        clearInterval(timer);
        this.watchers.delete(timer);
      }
      if (this.sendCallbacks) void this.callBack(callbackUrl, job);
    }, 10);
    this.watchers.add(timer);
  }

  private async callBack(url: string, job: FakeJob): Promise<void> {
    const generation = this.generation(job);
    for (let attempt = 0; attempt < 3; attempt++) {
      let status: number | 'error' = 'error';
      try {
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(generation), signal: AbortSignal.timeout(5000) });
        status = res.status;
        await res.arrayBuffer();
      } catch {
        status = 'error';
      }
      this.callbackLog.push({ url, state: String(generation.state), status });
      if (status === 200) return;
      await sleep(100);
    }
  }

  /** The generation object as Luma returns it. */
  generation(job: FakeJob): Record<string, unknown> {
    const phase = this.phase(job);
    const state = phase === 'queued' ? 'queued' : phase === 'running' ? 'dreaming' : phase === 'succeeded' ? 'completed' : 'failed';
    const outcome = job.plan.outcome;
    const image = job.extra.type === 'image';
    const url = state === 'completed' ? this.outputs(job)[0].url : null;
    return {
      id: job.id,
      generation_type: image ? 'image' : 'video',
      state,
      failure_reason: state === 'failed' ? (outcome.kind === 'fail' && outcome.message ? outcome.message : 'Internal server error') : null,
      created_at: new Date(job.createdAt).toISOString(),
      model: job.model,
      assets: { video: image ? null : url, image: image ? url : null, progress_video: null },
      request: job.body,
    };
  }

  private notFound(ctx: RouteContext): true {
    this.json(ctx.res, 404, { detail: 'Generation not found' });
    return true;
  }

  protected errorAnswer(kind: ErrorKind, fault?: FaultSpec): ErrorAnswer {
    const e = (status: number, detail: string, headers?: Record<string, string>): ErrorAnswer => ({ status, body: { detail: fault?.message ?? detail }, headers });
    switch (kind) {
      case 'unauthorized':
        return e(401, 'Invalid API key');
      case 'policy':
        return e(fault?.status ?? 400, 'Prompt not allowed because it violates our content moderation policy');
      case 'invalid':
        return { status: fault?.status ?? 400, body: { detail: fault?.message ?? 'Insufficient credits' } };
      case 'rate_limited':
        return e(429, 'Rate limit exceeded', this.retryHeaders(fault));
      case 'server_error':
        return e(fault?.status ?? 500, 'Internal server error');
      case 'unavailable':
        return e(fault?.status ?? 503, 'Service unavailable', this.retryHeaders(fault));
      case 'not_found':
        return e(404, 'Not Found');
    }
  }

  protected override successStatus(op: string): number {
    return op === 'submit' ? 201 : 200;
  }
}

/** Starts a fake Luma server. */
export async function startLumaFake(opts: FakeOptions = {}): Promise<LumaFake> {
  return new LumaFake(opts).start();
}
