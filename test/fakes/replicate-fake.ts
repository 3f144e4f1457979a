/**
 * A fake Replicate API on 127.0.0.1, root `/v1`: `POST /models/{owner}/{name}/predictions` `{input}` and
 * `POST /predictions` `{version, input}` → 201 with the prediction (`Prefer: wait[=n]` holds the answer up
 * to n seconds, 60 at most), `GET /predictions/{id}`, `GET /predictions`, `POST /predictions/{id}/cancel`.
 * Statuses starting, processing, succeeded, failed, canceled, aborted; ISO 8601 timestamps; tqdm-style
 * progress in `logs`; `output` a URL, a list or an object. An hour (the output TTL) after completion the
 * files answer 404 and the prediction shows `data_removed: true` with its output gone.
 * `Authorization: Bearer <token>` (or `Token`); errors are problem details `{title, detail, status}`.
 *
 * `webhook` + `webhook_events_filter: ["completed"]` on create: once the prediction is final it is POSTed
 * there, signed per Standard Webhooks with `webhookSecret` (`webhook-id`, `webhook-timestamp`,
 * `webhook-signature`), as Replicate does; `callbacks.mode = 'never'` stops that.
 *
 * Fault operations: `submit`, `status`, `cancel`, `file`. Outcomes: succeed, fail, abort.
 */
import type http from 'node:http';
import { randomBytes } from 'node:crypto';
import { signWebhook } from '../../src/webhooks/sign';
import { recordSecret } from '../support/leak-watch';
import {
  FakeProvider,
  base32,
  isObject,
  mediaForModel,
  sleep,
  type ErrorAnswer,
  type ErrorKind,
  type FakeJob,
  type FakeOptions,
  type FaultSpec,
  type JobOutcome,
  type Operation,
  type RouteContext,
} from './fake-server';

/** How `output` is shaped: `auto` is a list for images, a single URL for video and audio. */
export type ReplicateOutputShape = 'auto' | 'string' | 'array' | 'object';

/** A token shaped like Replicate's (`r8_` + 37 characters). */
export function replicateToken(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(37);
  let out = 'r8_';
  for (let i = 0; i < 37; i++) out += alphabet[bytes[i] % alphabet.length];
  return out;
}

/** The fake Replicate server. `url` is `http://127.0.0.1:P/v1`. */
export class ReplicateFake extends FakeProvider {
  protected readonly rootPath = '/v1';
  protected override supportedOutcomes: ReadonlySet<JobOutcome['kind']> = new Set(['succeed', 'fail', 'abort']);
  /** Shape of `output` for predictions that succeed from now on. */
  outputShape: ReplicateOutputShape = 'auto';
  /** The account's webhook signing secret (`GET /v1/webhooks/default/secret`). */
  readonly webhookSecret = `whsec_${randomBytes(24).toString('base64')}`;

  constructor(opts: FakeOptions = {}) {
    super(opts, { apiKey: replicateToken(), outputTtlMs: 60 * 60 * 1000 });
    recordSecret(this.webhookSecret);
  }

  /** Known versions (hash → `owner/name`), so `POST /predictions {version}` knows its model. */
  readonly versions = new Map<string, string>();

  /** Declares a version of a model (the model name picks the output media: png, mp4 or wav). */
  registerVersion(version: string, model: string): this {
    this.versions.set(version, model);
    return this;
  }

  /** Shape of `output` for succeeded predictions. */
  setOutputShape(shape: ReplicateOutputShape): this {
    this.outputShape = shape;
    return this;
  }

  protected authorized(req: http.IncomingMessage): boolean {
    const auth = req.headers.authorization;
    return auth === `Bearer ${this.apiKey}` || auth === `Token ${this.apiKey}`;
  }

  protected override successStatus(op: Operation): number {
    return op === 'submit' ? 201 : 200;
  }

  /** Dead replicate.delivery URLs answer 404. */
  protected override expiredFile(res: http.ServerResponse): void {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('Not Found');
  }

  protected async route(ctx: RouteContext): Promise<boolean> {
    const { method, path } = ctx.rec;
    const model = /^\/v1\/models\/([^/]+)\/([^/]+)\/predictions$/.exec(path);
    if (model && method === 'POST') {
      await this.create(ctx, `${decodeURIComponent(model[1])}/${decodeURIComponent(model[2])}`);
      return true;
    }
    if (path === '/v1/predictions' && method === 'POST') {
      await this.create(ctx, undefined);
      return true;
    }
    if (path === '/v1/predictions' && method === 'GET') {
      if (await this.fault(ctx, 'status')) return true;
      const results = [...this.jobs.values()].reverse().map((j) => this.prediction(j));
      this.json(ctx.res, 200, { next: null, previous: null, results });
      return true;
    }
    const one = /^\/v1\/predictions\/([^/]+)(\/cancel)?$/.exec(path);
    if (!one) return false;
    const job = this.jobs.get(decodeURIComponent(one[1]));
    if (method === 'GET' && !one[2]) {
      if (await this.fault(ctx, 'status')) return true;
      if (!job) return this.notFound(ctx);
      this.json(ctx.res, 200, this.prediction(job));
      return true;
    }
    if (method === 'POST' && one[2]) {
      if (await this.fault(ctx, 'cancel')) return true;
      if (!job) return this.notFound(ctx);
      const phase = this.phase(job);
      if (phase === 'queued' || phase === 'running') job.cancelledAt = Date.now();
      this.json(ctx.res, 200, this.prediction(job));
      return true;
    }
    return false;
  }

  private async create(ctx: RouteContext, modelFromPath: string | undefined): Promise<void> {
    if (await this.fault(ctx, 'submit')) return;
    const body = ctx.rec.body;
    if (!isObject(body)) return this.problem(ctx, 400, 'Invalid request body', 'The request body is not valid JSON.');
    let model = modelFromPath;
    let version = 'hidden';
    if (modelFromPath === undefined) {
      if (typeof body.version !== 'string' || !body.version) {
        return this.problem(ctx, 422, 'Invalid version', '- version: Required', [{ type: 'required', field: 'version', description: 'version is required' }]);
      }
      const pinned = /^([\w.-]+\/[\w.-]+):([0-9a-f]+)$/.exec(body.version);
      if (!pinned && !/^[0-9a-f]{8,}$/.test(body.version)) {
        return this.problem(ctx, 422, 'Invalid version', 'The specified version does not exist (or perhaps you don\'t have permission to use it?)');
      }
      version = pinned ? pinned[2] : body.version;
      model = pinned ? pinned[1] : (this.versions.get(version) ?? 'unknown/model');
    }
    if (!isObject(body.input)) {
      return this.problem(ctx, 422, 'Input validation failed', '- input: Invalid type. Expected: object, given: null', [
        { type: 'invalid_type', field: 'input', description: 'Invalid type. Expected: object, given: null' },
      ]);
    }
    const input = body.input;
    const media = mediaForModel(model ?? '');
    const count = typeof input.num_outputs === 'number' ? input.num_outputs : undefined;
    const seconds = typeof input.duration === 'number' ? input.duration : undefined;
    const job = this.createJob(base32(26), model ?? 'unknown/model', body, { media, outputCount: count, seconds });
    job.extra.version = version;
    job.extra.shape = this.outputShape;
    if (typeof body.webhook === 'string') {
      const filter = Array.isArray(body.webhook_events_filter) ? body.webhook_events_filter : ['start', 'output', 'logs', 'completed'];
      if (filter.includes('completed')) this.callbacks.watch(body.webhook, () => isFinal(this.phase(job)), () => this.signedPrediction(job));
    }
    const wait = preferWait(ctx.req.headers.prefer as string | undefined);
    if (wait !== undefined) {
      const until = Date.now() + wait * 1000;
      while (Date.now() < until && !isFinal(this.phase(job))) await sleep(25);
    }
    this.json(ctx.res, 201, this.prediction(job));
  }

  /** A webhook message: the prediction, signed as Replicate signs it (`msg_` id, seconds timestamp). */
  signedPrediction(job: FakeJob, at: Date = new Date()): { headers: Record<string, string>; body: string } {
    const body = JSON.stringify(this.prediction(job));
    return { headers: signWebhook(this.webhookSecret, `msg_${base32(26)}`, at, body), body };
  }

  /** The prediction object as Replicate returns it. */
  prediction(job: FakeJob): Record<string, unknown> {
    const now = Date.now();
    const phase = this.phase(job, now);
    const status =
      phase === 'queued' ? 'starting' : phase === 'running' ? 'processing' : phase === 'cancelled' ? 'canceled' : phase;
    const final = isFinal(phase);
    const finishedAt = this.finishedAt(job);
    const removed = final && now >= finishedAt + this.outputTtlMs;
    const started = phase !== 'queued' && phase !== 'aborted' && job.startAt <= now && job.startAt < finishedAt;
    const outcome = job.plan.outcome;
    const urlBase = `${this.url}/predictions/${job.id}`;
    const body = job.body as Record<string, unknown>;
    return {
      id: job.id,
      model: job.model,
      version: job.extra.version,
      input: removed ? {} : body.input,
      logs: removed ? '' : this.logs(job, phase),
      output: phase === 'succeeded' && !removed ? this.output(job) : null,
      data_removed: removed,
      error: phase === 'failed' && outcome.kind === 'fail' ? (outcome.message ?? 'Prediction failed.') : null,
      status,
      source: 'api',
      created_at: iso(job.createdAt),
      ...(started ? { started_at: iso(Math.min(job.startAt, finishedAt)) } : {}),
      ...(final ? { completed_at: iso(finishedAt) } : {}),
      urls: {
        cancel: `${urlBase}/cancel`,
        get: urlBase,
        stream: `${this.origin}/stream/${job.id}`,
        web: `https://replicate.com/p/${job.id}`,
      },
      ...(phase === 'succeeded' || phase === 'failed'
        ? { metrics: { predict_time: round3((finishedAt - Math.min(job.startAt, finishedAt)) / 1000), total_time: round3((finishedAt - job.createdAt) / 1000) } }
        : {}),
    };
  }

  private output(job: FakeJob): unknown {
    const urls = this.outputs(job).map((f) => f.url);
    const shape = job.extra.shape as ReplicateOutputShape;
    const resolved = shape === 'auto' ? (job.media === 'png' ? 'array' : 'string') : shape;
    if (resolved === 'array') return urls;
    if (resolved === 'string') return urls[0];
    const key = job.media === 'png' ? 'image' : job.media === 'mp4' ? 'video' : 'audio';
    return { [key]: urls.length > 1 ? urls : urls[0], seed: 42 };
  }

  /** tqdm-style lines while running, as diffusion models print them. */
  private logs(job: FakeJob, phase: string): string {
    if (phase === 'queued' || phase === 'aborted') return '';
    const steps = 50;
    const pct = phase === 'succeeded' ? 100 : this.progress(job);
    const done = Math.round((pct / 100) * steps);
    const bar = '█'.repeat(Math.floor(pct / 10)).padEnd(10, ' ');
    const lines = [`Using seed: 42`, `  0%|          | 0/${steps} [00:00<?, ?it/s]`];
    if (pct > 0) lines.push(`${String(pct).padStart(3, ' ')}%|${bar}| ${done}/${steps} [00:01<00:01, 20.00it/s]`);
    return lines.join('\n');
  }

  private notFound(ctx: RouteContext): true {
    this.problem(ctx, 404, 'Not found', 'The requested resource could not be found.');
    return true;
  }

  private problem(ctx: RouteContext, status: number, title: string, detail: string, invalidFields?: unknown[]): void {
    const body = { title, detail, status, ...(invalidFields ? { invalid_fields: invalidFields } : {}) };
    const text = JSON.stringify(body);
    ctx.res.writeHead(status, { 'content-type': 'application/problem+json', 'content-length': Buffer.byteLength(text) });
    ctx.res.end(text);
  }

  protected errorAnswer(kind: ErrorKind, fault?: FaultSpec): ErrorAnswer {
    const p = (status: number, title: string, detail: string, headers?: Record<string, string>, extra?: Record<string, unknown>): ErrorAnswer => ({
      status,
      body: { title: fault?.code ?? title, detail: fault?.message ?? detail, status, ...extra },
      headers,
      contentType: 'application/problem+json',
    });
    switch (kind) {
      case 'unauthorized':
        return p(401, 'Unauthenticated', 'You did not pass a valid authentication token');
      case 'policy':
        return p(fault?.status ?? 400, 'Input flagged', 'The input was flagged as sensitive content (NSFW). Please try a different prompt.');
      case 'invalid':
        return p(fault?.status ?? 422, 'Input validation failed', '- input.num_outputs: Must be less than or equal to 4', undefined, {
          invalid_fields: [{ type: 'less_than_equal', field: 'input.num_outputs', description: 'Must be less than or equal to 4' }],
        });
      case 'rate_limited': {
        const after = fault?.retryAfter ?? '1';
        return p(429, 'Request was throttled', `Request was throttled. Your rate limit resets in ~${after}s.`, this.retryHeaders(fault, '1'));
      }
      case 'server_error':
        return p(fault?.status ?? 500, 'Internal Server Error', 'An unexpected error occurred. Please try again.');
      case 'unavailable':
        return p(fault?.status ?? 503, 'Service Unavailable', 'The service is temporarily unavailable.', this.retryHeaders(fault));
      case 'not_found':
        return p(404, 'Not found', 'The requested resource could not be found.');
    }
  }
}

/** Starts a fake Replicate server. */
export async function startReplicateFake(opts: FakeOptions = {}): Promise<ReplicateFake> {
  return new ReplicateFake(opts).start();
}

function isFinal(phase: string): boolean {
  return phase !== 'queued' && phase !== 'running';
}

/** `Prefer: wait` → 60, `wait=5` → 5 (capped at 60); undefined when absent. */
function preferWait(header: string | undefined): number | undefined {
  if (!header) return undefined;
  const m = /(?:^|[,;\s])wait(?:=(\d+))?/.exec(header);
  if (!m) return undefined;
  return Math.min(60, m[1] ? Number(m[1]) : 60);
}

/** ISO 8601 with microseconds, as Replicate writes it. */
function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z');
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
