/**
 * A fake Kling AI API on 127.0.0.1 (root ``): `POST /v1/videos/text2video|image2video` and
 * `POST /v1/images/generations`, each read back with `GET {endpoint}/{task_id}` (and listed with
 * `GET {endpoint}?pageNum=&pageSize=`). Every answer is an envelope `{code, message, request_id, data}`;
 * task statuses `submitted`, `processing`, `succeed` (sic), `failed`; `duration` and
 * `final_unit_deduction` are strings; timestamps are ms. No cancel.
 *
 * Auth like Kling's: `Authorization: Bearer <JWT>` HS256 signed with the secret key, `iss` the access key;
 * a bad signature or issuer is 401/1002, `nbf` in the future 401/1003, an expired `exp` 401/1004. The
 * channel key is `ACCESS_KEY:SECRET_KEY`. Traps: a numeric `duration` is refused (Kling wants a string),
 * `image` with a `data:` prefix is refused (raw base64 or a URL), unknown models are 404/1203, tasks over
 * the concurrency limit are 429/1303, and a depleted resource pack (`setBalance`) is 429/1102, which is
 * final. With `callback_url`, the task object is POSTed bare (no envelope, no signature) on each status
 * change, unless `sendCallbacks` (option `callbacks`) is turned off.
 *
 * Fault operations: `submit`, `status`, `file`. Outcomes: succeed, fail (`message` the task_status_msg).
 */
import type http from 'node:http';
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import {
  FakeProvider,
  hex,
  isObject,
  type ErrorAnswer,
  type ErrorKind,
  type FakeJob,
  type FakeOptions,
  type FaultSpec,
  type JobPhase,
  type RouteContext,
} from './fake-server';

const ENDPOINTS = ['/v1/videos/text2video', '/v1/videos/image2video', '/v1/images/generations'];
/** Models the fake knows, by endpoint family. */
export const KLING_VIDEO_MODELS = ['kling-v1', 'kling-v1-6', 'kling-v2-master', 'kling-v2-1-master', 'kling-v2-5-turbo', 'kling-v2-6', 'kling-v3'];
export const KLING_IMAGE_MODELS = ['kling-v1', 'kling-v1-5', 'kling-v2', 'kling-v2-1', 'kling-v3'];
/** Older models take only "5" or "10". */
const SHORT_ONLY = new Set(['kling-v1', 'kling-v1-6', 'kling-v2-master', 'kling-v2-1-master']);
const VIDEO_FIELDS = new Set([
  'model_name', 'model', 'prompt', 'negative_prompt', 'cfg_scale', 'mode', 'aspect_ratio', 'duration', 'sound', 'camera_control',
  'multi_shot', 'shot_type', 'multi_prompt', 'watermark_info', 'callback_url', 'external_task_id', 'image', 'image_tail',
  'static_mask', 'dynamic_masks', 'element_list', 'voice_list',
]);
const IMAGE_FIELDS = new Set([
  'model_name', 'prompt', 'negative_prompt', 'image', 'image_reference', 'image_fidelity', 'human_fidelity', 'resolution', 'n',
  'aspect_ratio', 'callback_url', 'external_task_id', 'watermark_info',
]);
/** Units one task costs: per video second (pro twice std), per image (2k twice 1k). */
function unitsOf(job: FakeJob): number {
  const body = job.body as Record<string, unknown>;
  if (job.media === 'png') return job.outputCount * (body.resolution === '2k' ? 0.4 : 0.2);
  return job.seconds * (body.mode === 'pro' ? 0.7 : 0.35);
}

/** Options of the Kling fake. */
export interface KlingFakeOptions extends FakeOptions {
  /** Concurrent task slots per account (an image task takes `n`); over it → 429/1303. */
  maxConcurrent?: number;
  /** Whether tasks with `callback_url` call it (default true). */
  callbacks?: boolean;
}

/** One callback the fake sent. */
export interface KlingCallbackSent {
  url: string;
  body: Record<string, unknown>;
  status: number | 'error';
}

/** The fake Kling server. `url` is `http://127.0.0.1:P`; `apiKey` is `ACCESS_KEY:SECRET_KEY`. */
export class KlingFake extends FakeProvider {
  protected readonly rootPath = '';
  readonly accessKey: string;
  readonly secretKey: string;
  maxConcurrent: number;
  sendCallbacks: boolean;
  /** Units left in the resource pack; `null` is unlimited. */
  private balance: number | null = null;
  /** Every callback sent, in order. */
  readonly callbacksSent: KlingCallbackSent[] = [];
  private readonly announced = new Map<string, JobPhase>();
  private readonly authFailure = new WeakMap<http.IncomingMessage, { code: number; message: string }>();
  private timer?: NodeJS.Timeout;

  constructor(opts: KlingFakeOptions = {}) {
    const accessKey = `AK${hex(14)}`;
    const secretKey = `SK${hex(16)}`;
    super(opts, { apiKey: `${accessKey}:${secretKey}`, outputTtlMs: 30 * 24 * 60 * 60 * 1000 });
    [this.accessKey, this.secretKey] = this.apiKey.split(':') as [string, string];
    this.maxConcurrent = opts.maxConcurrent ?? 5;
    this.sendCallbacks = opts.callbacks ?? true;
  }

  override async start(): Promise<this> {
    await super.start();
    this.timer = setInterval(() => void this.announce(), 20);
    return this;
  }

  override async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await super.close();
  }

  /** Units left in the resource pack (`null`: unlimited). A task that costs more is refused 429/1102. */
  setBalance(units: number | null): this {
    this.balance = units;
    return this;
  }

  /** Verifies the JWT as Kling does; the reason of a refusal is kept for the error answer. */
  protected authorized(req: http.IncomingMessage): boolean {
    const failure = this.checkToken(req.headers.authorization);
    if (failure) this.authFailure.set(req, failure);
    return failure === undefined;
  }

  private checkToken(header: string | undefined): { code: number; message: string } | undefined {
    if (!header || !header.startsWith('Bearer ')) return { code: 1001, message: 'Authorization is empty' };
    const parts = header.slice(7).split('.');
    if (parts.length !== 3) return { code: 1002, message: 'Authorization is invalid' };
    const [head, payload, signature] = parts as [string, string, string];
    const expected = createHmac('sha256', this.secretKey).update(`${head}.${payload}`).digest();
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { code: 1002, message: 'Authorization is invalid' };
    let claims: Record<string, unknown>;
    let alg: unknown;
    try {
      alg = (JSON.parse(Buffer.from(head, 'base64url').toString('utf8')) as Record<string, unknown>).alg;
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      return { code: 1002, message: 'Authorization is invalid' };
    }
    if (alg !== 'HS256' || claims.iss !== this.accessKey) return { code: 1002, message: 'Authorization is invalid' };
    const now = Math.floor(Date.now() / 1000);
    if (typeof claims.nbf === 'number' && claims.nbf > now) return { code: 1003, message: 'Authorization is not active' };
    if (typeof claims.exp !== 'number' || claims.exp <= now) return { code: 1004, message: 'Authorization has expired' };
    return undefined;
  }

  protected async route(ctx: RouteContext): Promise<boolean> {
    const { method, path } = ctx.rec;
    const endpoint = ENDPOINTS.find((e) => path === e || path.startsWith(`${e}/`));
    if (!endpoint) return false;
    if (path === endpoint && method === 'POST') {
      await this.create(ctx, endpoint);
      return true;
    }
    if (method !== 'GET') return false;
    if (await this.fault(ctx, 'status')) return true;
    if (path === endpoint) {
      const list = [...this.jobs.values()].filter((j) => j.extra.endpoint === endpoint).reverse().map((j) => this.task(j));
      this.ok(ctx, list);
      return true;
    }
    const id = decodeURIComponent(path.slice(endpoint.length + 1));
    const job = [...this.jobs.values()].find((j) => j.extra.endpoint === endpoint && (j.id === id || j.extra.externalTaskId === id));
    if (!job) return this.refuse(ctx, 404, 1203, `task ${id} does not exist`);
    this.ok(ctx, this.task(job));
    return true;
  }

  private async create(ctx: RouteContext, endpoint: string): Promise<void> {
    if (await this.fault(ctx, 'submit')) return;
    const body = ctx.rec.body;
    const bad = (message: string) => void this.refuse(ctx, 400, 1201, message);
    if (!isObject(body)) return bad('request body is invalid');
    const image = endpoint === '/v1/images/generations';
    const fields = image ? IMAGE_FIELDS : VIDEO_FIELDS;
    const unknown = Object.keys(body).find((k) => !fields.has(k));
    if (unknown) return bad(`parameter ${unknown} is not supported`);
    const model = String(body.model_name ?? body.model ?? 'kling-v1');
    if (!(image ? KLING_IMAGE_MODELS : KLING_VIDEO_MODELS).includes(model)) return void this.refuse(ctx, 404, 1203, `model_name ${model} is not supported`);
    if (body.prompt !== undefined && (typeof body.prompt !== 'string' || body.prompt.length > 2500)) return bad('prompt is invalid');
    if (endpoint === '/v1/videos/image2video' && typeof body.image !== 'string') return bad('image is required');
    for (const key of ['image', 'image_tail']) {
      const value = body[key];
      if (value !== undefined && (typeof value !== 'string' || value.startsWith('data:'))) return bad(`${key} must be a URL or raw base64 without a data: prefix`);
    }
    if (body.callback_url !== undefined && typeof body.callback_url !== 'string') return bad('callback_url is invalid');
    let seconds = 0;
    let count = 1;
    if (image) {
      if (body.n !== undefined && (typeof body.n !== 'number' || !Number.isInteger(body.n) || body.n < 1 || body.n > 9)) return bad('n must be an integer from 1 to 9');
      if (body.resolution !== undefined && !['1k', '2k'].includes(String(body.resolution))) return bad('resolution must be 1k or 2k');
      count = typeof body.n === 'number' ? body.n : 1;
    } else {
      // Kling wants the duration as a string: a number is refused.
      if (body.duration !== undefined && typeof body.duration !== 'string') return bad('duration must be a string');
      const duration = body.duration === undefined ? '5' : body.duration;
      const allowed = SHORT_ONLY.has(model) ? ['5', '10'] : Array.from({ length: 13 }, (_, i) => String(i + 3));
      if (!allowed.includes(duration)) return bad(`duration ${duration} is not supported by ${model}`);
      if (body.mode !== undefined && !['std', 'pro'].includes(String(body.mode))) return bad('mode must be std or pro');
      if (body.sound !== undefined && !['on', 'off'].includes(String(body.sound))) return bad('sound must be on or off');
      if (body.aspect_ratio !== undefined && !['16:9', '9:16', '1:1'].includes(String(body.aspect_ratio))) return bad('aspect_ratio is invalid');
      seconds = Number(duration);
    }
    const busy = [...this.jobs.values()].filter((j) => ['queued', 'running'].includes(this.phase(j))).reduce((sum, j) => sum + (j.media === 'png' ? j.outputCount : 1), 0);
    if (busy + (image ? count : 1) > this.maxConcurrent) return void this.refuse(ctx, 429, 1303, 'parallel task over resource pack limit');
    const id = String(BigInt(`0x${hex(7)}`) + 800000000000000000n);
    const job = this.createJob(id, model, body, { media: image ? 'png' : 'mp4', outputCount: count, ...(image ? {} : { seconds }) });
    if (this.balance !== null) {
      const cost = unitsOf(job);
      if (cost > this.balance) {
        this.jobs.delete(id);
        return void this.refuse(ctx, 429, 1102, 'resource pack exhausted');
      }
      this.balance -= cost;
    }
    job.extra.endpoint = endpoint;
    if (typeof body.external_task_id === 'string') job.extra.externalTaskId = body.external_task_id;
    if (typeof body.callback_url === 'string') job.extra.callbackUrl = body.callback_url;
    this.ok(ctx, this.task(job));
  }

  /** The task object as Kling returns it (and POSTs it to callbacks). */
  task(job: FakeJob): Record<string, unknown> {
    const phase = this.phase(job);
    const status = phase === 'queued' ? 'submitted' : phase === 'running' ? 'processing' : phase === 'succeeded' ? 'succeed' : 'failed';
    const outcome = job.plan.outcome;
    const updated = phase === 'queued' ? job.createdAt : phase === 'running' ? job.startAt : this.finishedAt(job);
    const files = phase === 'succeeded' ? this.outputs(job) : [];
    const result =
      phase !== 'succeeded'
        ? undefined
        : job.media === 'png'
          ? { images: files.map((f, index) => ({ index, url: f.url })) }
          : { videos: files.map((f) => ({ id: randomUUID(), url: f.url, watermark_url: `${f.url}&wm=1`, duration: (job.seconds + 0.041).toFixed(3) })) };
    return {
      task_id: job.id,
      task_status: status,
      task_status_msg: phase === 'failed' && outcome.kind === 'fail' ? (outcome.message ?? 'Failure to pass the risk control system') : '',
      task_info: job.extra.externalTaskId ? { external_task_id: job.extra.externalTaskId } : {},
      ...(result ? { task_result: result } : {}),
      watermark_info: { enabled: false },
      ...(phase === 'succeeded' ? { final_unit_deduction: String(unitsOf(job)) } : {}),
      created_at: job.createdAt,
      updated_at: Math.min(updated, Date.now()),
    };
  }

  /** POSTs the bare task to its callback_url on each status change, as Kling does. */
  private async announce(): Promise<void> {
    if (!this.sendCallbacks) return;
    for (const job of this.jobs.values()) {
      const url = job.extra.callbackUrl;
      if (typeof url !== 'string') continue;
      const phase = this.phase(job);
      const before = this.announced.get(job.id);
      if (before === phase || (before === undefined && phase === 'queued')) continue;
      this.announced.set(job.id, phase);
      const body = this.task(job);
      try {
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(5000) });
        this.callbacksSent.push({ url, body, status: res.status });
      } catch {
        this.callbacksSent.push({ url, body, status: 'error' });
      }
    }
  }

  private ok(ctx: RouteContext, data: unknown): void {
    this.json(ctx.res, 200, { code: 0, message: 'SUCCEED', request_id: randomUUID(), data });
  }

  private refuse(ctx: RouteContext, status: number, code: number, message: string): true {
    this.json(ctx.res, status, { code, message, request_id: randomUUID() });
    return true;
  }

  protected errorAnswer(kind: ErrorKind, fault?: FaultSpec, ctx?: RouteContext): ErrorAnswer {
    const e = (status: number, code: number, message: string, headers?: Record<string, string>): ErrorAnswer => ({
      status,
      body: { code: fault?.code !== undefined ? Number(fault.code) : code, message: fault?.message ?? message, request_id: randomUUID() },
      headers,
    });
    switch (kind) {
      case 'unauthorized': {
        const why = (ctx && this.authFailure.get(ctx.req)) ?? { code: 1000, message: 'Authentication failed' };
        return e(401, why.code, why.message);
      }
      case 'policy':
        return e(fault?.status ?? 400, 1301, 'Failure to pass the risk control system');
      case 'invalid':
        return e(fault?.status ?? 400, 1201, 'duration is invalid');
      case 'rate_limited':
        return e(429, 1302, 'API request too fast, please slow down', this.retryHeaders(fault));
      case 'server_error':
        return e(fault?.status ?? 500, 5000, 'Server internal error');
      case 'unavailable':
        return e(fault?.status ?? 503, 5001, 'Server temporarily unavailable, usually due to maintenance', this.retryHeaders(fault));
      case 'not_found':
        return e(404, 1202, 'The requested method is invalid');
    }
  }
}

/** Starts a fake Kling server. */
export async function startKlingFake(opts: KlingFakeOptions = {}): Promise<KlingFake> {
  return new KlingFake(opts).start();
}
