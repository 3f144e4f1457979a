/**
 * The shared machinery of the fake provider servers: a node:http server on 127.0.0.1 (port 0), a log of
 * every request, scripted failures per operation, time-driven jobs, and output files that really expire.
 * Each provider fake (openai-fake.ts, ark-fake.ts, replicate-fake.ts, fal-fake.ts) supplies the routes and
 * the provider's own shapes: a fake kinder than the real provider hides bugs.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { mp4Bytes, pngBytes, wavBytes } from '../../src/media';
import { recordSecret } from '../support/leak-watch';
import { FakeCallbacks } from './provider-callbacks';
import { answerRedirect, roughContent, roughUrl, serveRoughBody, type OutputServing } from './rough-outputs';

/** One request as the fake received it. */
export interface RecordedRequest {
  method: string;
  /** Path without the query, e.g. `/v1/videos`. */
  path: string;
  query: Record<string, string>;
  /** Lower-cased header names, as node gives them (includes `authorization`). */
  headers: http.IncomingHttpHeaders;
  /** Parsed JSON when the body was JSON, form fields for multipart, the raw text otherwise; undefined if empty. */
  body: unknown;
  rawBody: string;
  /** Date.now() when the request arrived. */
  at: number;
}

/** The failures a fake can inject into one call. */
export type FaultKind =
  /** Content-policy refusal in the provider's shape (openai/ark/replicate 400, fal 422). */
  | 'policy'
  /** 401 in the provider's auth-error shape, whatever key was sent. */
  | 'unauthorized'
  /** Invalid request (openai/ark 400, replicate/fal 422; `status` overrides). */
  | 'invalid'
  /** 429 with `Retry-After` (`retryAfter`, default "1") and optionally `retry-after-ms`. */
  | 'rate_limited'
  /** 500 in the provider's shape (`status` may pick another 5xx, e.g. 504). */
  | 'server_error'
  /** 502 with an HTML page, as a proxy in front of the provider answers. */
  | 'bad_gateway'
  /** 503 in the provider's shape. */
  | 'unavailable'
  /** Never answers (the socket stays open until the client gives up or the fake closes). */
  | 'hang'
  /** Destroys the socket without answering (the client sees a connection reset). */
  | 'reset'
  /** Answers the success status with a JSON body cut in the middle. */
  | 'malformed';

/** A fault with its details. */
export interface FaultSpec {
  kind: FaultKind;
  /** HTTP status override for `invalid`, `server_error`, `unavailable`, `policy`. */
  status?: number;
  /** `Retry-After` header value for `rate_limited` / `unavailable` (seconds or an HTTP date). */
  retryAfter?: string;
  /** Adds a `retry-after-ms` header (openai's SDK honours it first). */
  retryAfterMs?: number;
  /** Replaces the provider's default error message. */
  message?: string;
  /** Replaces the provider's default error code. */
  code?: string;
  /** Waits this long before answering. */
  delayMs?: number;
}
export type Fault = FaultKind | FaultSpec;
/** One scripted outcome for a call: a fault, or `'ok'` to let it through. */
export type Scripted = Fault | 'ok';

/** One share of a random fault mix (`failRandomly`): `rate` of the calls (0..1) get `fault`. */
export interface RandomFault {
  fault: Fault;
  rate: number;
}

/** Calls that faults can target. Each fake documents which it has. */
export type Operation =
  | 'submit'
  | 'status'
  | 'cancel'
  /** fal `GET .../requests/{id}` (the result). */
  | 'result'
  /** openai `GET /videos/{id}/content`. */
  | 'content'
  /** openai chat completions. */
  | 'chat'
  /** openai embeddings. */
  | 'embeddings'
  /** Output files served by the fake. */
  | 'file';

/** Output media a job produces. */
export type MediaType = 'png' | 'mp4' | 'wav';

/** How a job ends. */
export type JobOutcome =
  | { kind: 'succeed' }
  /**
   * Fails in flight. `code` is the provider's error code (openai/ark `error.code`, fal `detail[].type` or
   * `error_type`), `message` its text, `retryable` fal's `X-Fal-Retryable`, `status` fal's result status.
   */
  | { kind: 'fail'; code?: string; message?: string; retryable?: boolean; status?: number }
  /** ark only: the task ends `expired`. */
  | { kind: 'expire' }
  /** replicate only: the prediction never starts and ends `aborted`. */
  | { kind: 'abort' };

/** A job's timeline and outcome, fixed when the job is created. */
export interface JobPlan {
  /** Milliseconds in the queue. `Infinity` holds it there until `startJob`. */
  queueMs: number;
  /** Milliseconds running. `Infinity` keeps it running until `finishJob`. */
  runMs: number;
  outcome: JobOutcome;
  /** Output media; default inferred from the route and model name. */
  media?: MediaType;
  /** Number of output files; default from the request (`n`, `num_outputs`, `num_images`) or 1. */
  outputs?: number;
  /** Seconds the video or audio really lasts (a shorter one than asked); default from the request. */
  seconds?: number;
  /** How the output files are handed out and served (other host, redirects, data: URIs, SVG, huge...). */
  serve?: OutputServing;
}

export type JobPhase = 'queued' | 'running' | 'succeeded' | 'failed' | 'expired' | 'aborted' | 'cancelled';

/** A job held by a fake. */
export interface FakeJob {
  id: string;
  model: string;
  /** The submit body as received. */
  body: unknown;
  plan: JobPlan;
  createdAt: number;
  startAt: number;
  endAt: number;
  cancelledAt?: number;
  /** Set by `setJobProgress`; otherwise progress follows the clock. */
  progress?: number;
  media: MediaType;
  outputCount: number;
  /** Seconds of video or audio the output files last. */
  seconds: number;
  files?: FakeFile[];
  /** Provider-specific state. */
  extra: Record<string, unknown>;
}

/** An output file served by the fake under `/files/...`. */
export interface FakeFile {
  token: string;
  url: string;
  contentType: string;
  bytes: Buffer;
  /** Date.now() after which the URL answers like a dead signed URL. */
  expiresAt: number;
  jobId: string;
  serve?: OutputServing;
  /** Downloads served so far. */
  downloads: number;
}

/** Options every fake accepts. */
export interface FakeOptions {
  /** The key the fake accepts; default a key-like random string in the provider's format. */
  apiKey?: string;
  /** Defaults for new jobs; default `{queueMs: 20, runMs: 80, outcome: {kind: 'succeed'}}`. */
  jobPlan?: Partial<JobPlan>;
  /** Lifetime of output URLs after the job finishes; default the provider's (1 h, ark 24 h). */
  outputTtlMs?: number;
}

/** What a provider route gets. */
export interface RouteContext {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  rec: RecordedRequest;
  url: URL;
}

/** An error answer in a provider's own shape. */
export interface ErrorAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  contentType?: string;
}

/** The error situations each fake renders in its own shape. */
export type ErrorKind = 'unauthorized' | 'policy' | 'invalid' | 'rate_limited' | 'server_error' | 'unavailable' | 'not_found';

const DEFAULT_PLAN: JobPlan = { queueMs: 20, runMs: 80, outcome: { kind: 'succeed' } };
const VIDEO_MODEL = /video|kling|wan|veo|seedance|hunyuan|ltx|minimax|hailuo|luma|runway|pika|sora|mochi|cogvideo/i;
const AUDIO_MODEL = /music|audio|sound|tts|speech|song|musicgen|riffusion|lyria|ace-step|bark|stable-audio/i;

/** png for image models, mp4 for video models, wav for audio models (by model name). */
export function mediaForModel(model: string): MediaType {
  if (VIDEO_MODEL.test(model)) return 'mp4';
  if (AUDIO_MODEL.test(model)) return 'wav';
  return 'png';
}

export const CONTENT_TYPE: Record<MediaType, string> = { png: 'image/png', mp4: 'video/mp4', wav: 'audio/wav' };

/** Random lower-case hex. */
export function hex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

/** Random lower-case letters and digits (replicate ids). */
export function base32(length: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  const bytes = randomBytes(length);
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[bytes[i] % alphabet.length];
  return out;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The base of every provider fake. */
export abstract class FakeProvider {
  /** Every request received, in order (including output downloads). */
  readonly requests: RecordedRequest[] = [];
  /** Every job created, by id. */
  readonly jobs = new Map<string, FakeJob>();
  /** The key the fake accepts. */
  readonly apiKey: string;
  /** `http://127.0.0.1:<port>`. */
  origin = '';
  /** The same server as `localhost:<port>`: another host name than the API's. */
  otherHostOrigin = '';
  /** `http://127.0.0.2:<port>`: a trap the gateway must never reach (the tests allowlist only 127.0.0.1). */
  privateOrigin = '';
  /** Every request that reached the 127.0.0.2 trap. */
  readonly privateHits: RecordedRequest[] = [];
  /** The base_url to configure on a channel (the provider's API root). */
  url = '';
  /** Lifetime of output URLs after completion. */
  outputTtlMs: number;
  /** Callbacks to the URL a submit named, where the protocol has them (`callbacks.mode = 'never'` stops them). */
  readonly callbacks = new FakeCallbacks();

  private readonly server: http.Server;
  private readonly trap: http.Server;
  private readonly scripted = new Map<Operation, Scripted[]>();
  private readonly always = new Map<Operation, Fault>();
  private readonly randomly = new Map<Operation, { mix: RandomFault[]; draw: () => number }>();
  /** How many faults were injected, by `<operation>:<kind>` (scripted, random and standing ones alike). */
  readonly injected: Record<string, number> = {};
  private jobDefaults: JobPlan;
  private readonly nextPlans: Partial<JobPlan>[] = [];
  private readonly files = new Map<string, FakeFile>();
  private readonly initialPlan: JobPlan;
  private readonly initialTtl: number;

  protected constructor(opts: FakeOptions, defaults: { apiKey: string; outputTtlMs: number }) {
    this.apiKey = opts.apiKey ?? defaults.apiKey;
    recordSecret(this.apiKey);
    this.outputTtlMs = opts.outputTtlMs ?? defaults.outputTtlMs;
    this.jobDefaults = { ...DEFAULT_PLAN, ...opts.jobPlan };
    this.initialPlan = this.jobDefaults;
    this.initialTtl = this.outputTtlMs;
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
      this.dispatch(req, res).catch((err: unknown) => {
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`fake server bug: ${String(err instanceof Error ? err.stack : err)}`);
        } else {
          res.destroy();
        }
      });
    };
    this.server = http.createServer(handler);
    this.trap = http.createServer((req, res) => {
      this.privateHits.push({ method: req.method ?? 'GET', path: req.url ?? '/', query: {}, headers: req.headers, body: undefined, rawBody: '', at: Date.now() });
      handler(req, res);
    });
  }

  /** The API root path the fake serves (`/v1`, `/api/v3`, ``). */
  protected abstract readonly rootPath: string;
  /** Serves one API request (auth already checked, request recorded). Returns false for an unknown route. */
  protected abstract route(ctx: RouteContext): Promise<boolean>;
  /** Whether the request carries the right credential, in the provider's scheme. */
  protected abstract authorized(req: http.IncomingMessage): boolean;
  /** An error answer in the provider's shape. */
  protected abstract errorAnswer(kind: ErrorKind, fault?: FaultSpec, ctx?: RouteContext): ErrorAnswer;
  /** How an expired output URL answers (default 403 like a dead signed URL). */
  protected expiredFile(res: http.ServerResponse): void {
    res.writeHead(403, { 'content-type': 'application/xml' });
    res.end(
      '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>',
    );
  }
  /** The job outcomes this provider can produce (`expire` is ark's, `abort` replicate's). */
  protected supportedOutcomes: ReadonlySet<JobOutcome['kind']> = new Set(['succeed', 'fail']);

  private checkPlan(plan: Partial<JobPlan>): void {
    if (plan.outcome && !this.supportedOutcomes.has(plan.outcome.kind)) {
      throw new Error(`fake ${this.constructor.name}: outcome "${plan.outcome.kind}" does not exist in this protocol`);
    }
  }

  /** Status code of a successful answer to `op` (used by the `malformed` fault). */
  protected successStatus(_op: Operation): number {
    return 200;
  }

  /** Starts listening on 127.0.0.1 with a free port. */
  async start(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = this.server.address() as AddressInfo;
    this.origin = `http://127.0.0.1:${port}`;
    this.otherHostOrigin = `http://localhost:${port}`;
    this.url = `${this.origin}${this.rootPath}`;
    await new Promise<void>((resolve, reject) => {
      this.trap.once('error', reject);
      this.trap.listen(0, '127.0.0.2', () => resolve());
    });
    this.privateOrigin = `http://127.0.0.2:${(this.trap.address() as AddressInfo).port}`;
    return this;
  }

  /** Stops the server and drops every open connection (hung requests included). */
  async close(): Promise<void> {
    this.callbacks.close();
    for (const server of [this.server, this.trap]) {
      server.closeAllConnections();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  // ---- control surface -------------------------------------------------------------------------

  /** Scripts the next calls of `op`, consumed in order (`'ok'` lets one through); then `failAlways` applies. */
  failNext(op: Operation, ...outcomes: Scripted[]): this {
    const list = this.scripted.get(op) ?? [];
    list.push(...outcomes);
    this.scripted.set(op, list);
    return this;
  }

  /** Scripts the next submits: `failNextSubmits('unavailable', 'unavailable')` fails twice, then succeeds. */
  failNextSubmits(...outcomes: Scripted[]): this {
    return this.failNext('submit', ...outcomes);
  }

  /** Every call of `op` fails this way once its script is empty; `null` turns it off. */
  failAlways(op: Operation, fault: Fault | null): this {
    if (fault === null) this.always.delete(op);
    else this.always.set(op, fault);
    return this;
  }

  /**
   * Every call of `op` whose script is empty draws from `mix` instead of `failAlways`: with
   * `[{fault: 'server_error', rate: 0.3}, {fault: 'hang', rate: 0.05}]` 30% of calls answer 500, 5% hang
   * and the rest go through. Seeded (default 1), so a run can be replayed; `null` turns it off.
   */
  failRandomly(op: Operation, mix: RandomFault[] | null, opts: { seed?: number } = {}): this {
    if (mix === null) {
      this.randomly.delete(op);
      return this;
    }
    const total = mix.reduce((sum, entry) => sum + entry.rate, 0);
    if (mix.some((entry) => entry.rate < 0) || total > 1) throw new Error(`fake ${this.constructor.name}: fault rates must be >= 0 and add up to at most 1`);
    this.randomly.set(op, { mix, draw: seededRandom(opts.seed ?? 1) });
    return this;
  }

  /** Changes the defaults for jobs created from now on. */
  setJobPlan(plan: Partial<JobPlan>): this {
    this.checkPlan(plan);
    this.jobDefaults = { ...this.jobDefaults, ...plan };
    return this;
  }

  /** Plans for the next jobs, one each, in order (merged over the defaults). */
  planNextJobs(...plans: Partial<JobPlan>[]): this {
    plans.forEach((p) => this.checkPlan(p));
    this.nextPlans.push(...plans);
    return this;
  }

  /** Lifetime of output URLs for jobs that finish from now on. */
  setOutputTtlMs(ms: number): this {
    this.outputTtlMs = ms;
    return this;
  }

  /** A job by id (throws when unknown). */
  job(id: string): FakeJob {
    const job = this.jobs.get(id);
    if (!job) throw new Error(`fake: no job ${id}`);
    return job;
  }

  /** The most recently created job. */
  lastJob(): FakeJob {
    const all = [...this.jobs.values()];
    if (all.length === 0) throw new Error('fake: no job yet');
    return all[all.length - 1];
  }

  /** A job's phase now. */
  jobPhase(id: string): JobPhase {
    return this.phase(this.job(id));
  }

  /** Moves a queued job to running now. */
  startJob(id: string): this {
    const job = this.job(id);
    const now = Date.now();
    if (this.phase(job, now) === 'queued') {
      job.startAt = now;
      job.endAt = now + job.plan.runMs;
    }
    return this;
  }

  /** Ends a job now with its planned outcome. */
  finishJob(id: string): this {
    const job = this.job(id);
    const now = Date.now();
    job.startAt = Math.min(job.startAt, now);
    job.endAt = now;
    return this;
  }

  /** Pins a running job's progress (0-100). */
  setJobProgress(id: string, progress: number): this {
    this.job(id).progress = progress;
    return this;
  }

  /** Makes output URLs (of one job, or all) expire now. */
  expireOutputs(jobId?: string): this {
    const now = Date.now();
    for (const f of this.files.values()) if (jobId === undefined || f.jobId === jobId) f.expiresAt = now - 1;
    return this;
  }

  /** Requests with this method whose path matches (prefix string or RegExp). */
  requestsTo(method: string, path: string | RegExp): RecordedRequest[] {
    return this.requests.filter(
      (r) => r.method === method && (typeof path === 'string' ? r.path.startsWith(path) : path.test(r.path)),
    );
  }

  /** Forgets the request log. */
  clearRequests(): this {
    this.requests.length = 0;
    return this;
  }

  /** Back to the start: no scripts, default plan and TTL, empty log (existing jobs stay). */
  reset(): this {
    this.scripted.clear();
    this.always.clear();
    this.randomly.clear();
    this.nextPlans.length = 0;
    this.jobDefaults = this.initialPlan;
    this.outputTtlMs = this.initialTtl;
    this.requests.length = 0;
    this.callbacks.reset();
    return this;
  }

  // ---- helpers for provider fakes --------------------------------------------------------------

  /** Creates a job with the next plan. */
  protected createJob(
    id: string,
    model: string,
    body: unknown,
    defaults: { media: MediaType; outputCount?: number; seconds?: number },
  ): FakeJob {
    const plan: JobPlan = { ...this.jobDefaults, ...this.nextPlans.shift() };
    this.checkPlan(plan);
    const media = plan.media ?? defaults.media;
    const now = Date.now();
    const startAt = now + plan.queueMs;
    const job: FakeJob = {
      id,
      model,
      body,
      plan,
      createdAt: now,
      startAt: plan.outcome.kind === 'abort' ? Infinity : startAt,
      endAt: plan.outcome.kind === 'abort' ? startAt : startAt + plan.runMs,
      media,
      outputCount: Math.max(1, plan.outputs ?? defaults.outputCount ?? 1),
      seconds: plan.seconds ?? (defaults.seconds !== undefined && defaults.seconds > 0 ? defaults.seconds : media === 'wav' ? 2 : 4),
      extra: {},
    };
    this.jobs.set(id, job);
    return job;
  }

  /** A job's phase at `now`. */
  protected phase(job: FakeJob, now: number = Date.now()): JobPhase {
    if (job.cancelledAt !== undefined && job.cancelledAt <= now) return 'cancelled';
    const kind = job.plan.outcome.kind;
    if (kind === 'abort') return now >= job.endAt ? 'aborted' : 'queued';
    if (now < job.startAt) return 'queued';
    if (now < job.endAt) return 'running';
    if (kind === 'succeed') return 'succeeded';
    if (kind === 'expire') return 'expired';
    return 'failed';
  }

  /** 0 queued, clock-driven (or pinned) while running, 100 succeeded. */
  protected progress(job: FakeJob, now: number = Date.now()): number {
    const phase = this.phase(job, now);
    if (phase === 'succeeded') return 100;
    if (phase === 'queued') return 0;
    if (job.progress !== undefined) return job.progress;
    const span = job.endAt - job.startAt;
    const start = Math.min(job.startAt, now);
    if (!Number.isFinite(span) || span <= 0) return 0;
    return Math.max(0, Math.min(99, Math.floor(((now - start) / span) * 100)));
  }

  /** The moment a job reached its final phase (ms). */
  protected finishedAt(job: FakeJob): number {
    return job.cancelledAt !== undefined ? job.cancelledAt : job.endAt;
  }

  /** Output files of a succeeded job, made on first use; URLs expire `outputTtlMs` after completion. */
  protected outputs(job: FakeJob): FakeFile[] {
    if (job.files) return job.files;
    const files: FakeFile[] = [];
    for (let i = 0; i < job.outputCount; i++) files.push(this.addFile(job, i));
    job.files = files;
    return files;
  }

  /** Registers one file of `job` (the i-th output). */
  protected addFile(job: FakeJob, i: number, media: MediaType = job.media): FakeFile {
    const seed = `${job.id}:${i}`;
    const bytes =
      media === 'png'
        ? pngBytes({ width: 64, height: 64, seed })
        : media === 'mp4'
          ? mp4Bytes({ seconds: job.seconds, seed })
          : wavBytes({ seconds: job.seconds, seed });
    const token = hex(16);
    const name = `output_${i}.${media}`;
    const expiresAt = this.finishedAt(job) + this.outputTtlMs;
    const serve = job.plan.serve;
    const content = roughContent(serve, bytes, CONTENT_TYPE[media]);
    const origins = { self: this.origin, otherHost: this.otherHostOrigin, private: this.privateOrigin };
    const url = roughUrl(serve, origins, `/files/${token}/${name}?expires=${Math.floor(expiresAt / 1000)}&signature=${hex(16)}`, content);
    const file: FakeFile = { token, url, ...content, expiresAt, jobId: job.id, serve, downloads: 0 };
    this.files.set(token, file);
    return file;
  }

  /** Sends JSON. */
  protected json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  /** Sends an error in the provider's shape. */
  protected error(ctx: RouteContext, kind: ErrorKind, fault?: FaultSpec): void {
    const answer = this.errorAnswer(kind, fault, ctx);
    const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
    ctx.res.writeHead(answer.status, {
      'content-type': answer.contentType ?? 'application/json',
      'content-length': Buffer.byteLength(text),
      ...answer.headers,
    });
    ctx.res.end(text);
  }

  /**
   * Applies the scripted or standing fault for `op`, if any. Returns true when the call was answered
   * (or hung, or reset) and the route must stop.
   */
  protected async fault(ctx: RouteContext, op: Operation): Promise<boolean> {
    const scripted = this.scripted.get(op);
    let next: Scripted | undefined = scripted && scripted.length > 0 ? scripted.shift() : this.randomly.has(op) ? this.drawFault(op) : this.always.get(op);
    if (next === undefined || next === 'ok') return false;
    const spec: FaultSpec = typeof next === 'string' ? { kind: next } : next;
    next = undefined;
    this.injected[`${op}:${spec.kind}`] = (this.injected[`${op}:${spec.kind}`] ?? 0) + 1;
    if (spec.delayMs) await sleep(spec.delayMs);
    switch (spec.kind) {
      case 'hang':
        return true;
      case 'reset':
        ctx.req.socket.destroy();
        return true;
      case 'malformed': {
        const text = '{"id": "broken", "status": "queued", "created_at": 17';
        ctx.res.writeHead(this.successStatus(op), { 'content-type': 'application/json' });
        ctx.res.end(text);
        return true;
      }
      case 'bad_gateway': {
        const html =
          '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';
        ctx.res.writeHead(spec.status ?? 502, { 'content-type': 'text/html' });
        ctx.res.end(html);
        return true;
      }
      case 'policy':
      case 'unauthorized':
      case 'invalid':
      case 'rate_limited':
      case 'server_error':
      case 'unavailable':
        this.error(ctx, spec.kind, spec);
        return true;
    }
  }

  private drawFault(op: Operation): Scripted {
    const { mix, draw } = this.randomly.get(op)!;
    let value = draw();
    for (const entry of mix) {
      if (value < entry.rate) return entry.fault;
      value -= entry.rate;
    }
    return 'ok';
  }

  /** Retry headers for a rate-limit or unavailable fault. */
  protected retryHeaders(fault: FaultSpec | undefined, defaultRetryAfter?: string): Record<string, string> {
    const headers: Record<string, string> = {};
    const after = fault?.retryAfter ?? defaultRetryAfter;
    if (after !== undefined) headers['retry-after'] = after;
    if (fault?.retryAfterMs !== undefined) headers['retry-after-ms'] = String(fault.retryAfterMs);
    return headers;
  }

  // ---- the server ------------------------------------------------------------------------------

  private async dispatch(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://fake.local');
    const rec: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      body: await parseRequestBody(raw, req.headers['content-type']),
      rawBody: raw.toString('utf8'),
      at: Date.now(),
    };
    this.requests.push(rec);
    const ctx: RouteContext = { req, res, rec, url };

    if (url.pathname.startsWith('/redirect/') && rec.method === 'GET') {
      answerRedirect(res, url.pathname, url.search, this.origin);
      return;
    }
    if (url.pathname.startsWith('/files/') && (rec.method === 'GET' || rec.method === 'HEAD')) {
      if (await this.fault(ctx, 'file')) return;
      this.serveFile(ctx);
      return;
    }
    if (!this.authorized(req)) {
      this.error(ctx, 'unauthorized');
      return;
    }
    if (!(await this.route(ctx))) this.error(ctx, 'not_found');
  }

  private serveFile(ctx: RouteContext): void {
    const token = ctx.url.pathname.split('/')[2] ?? '';
    const file = this.files.get(token);
    if (!file) {
      ctx.res.writeHead(404, { 'content-type': 'text/plain' });
      ctx.res.end('Not Found');
      return;
    }
    if (Date.now() >= file.expiresAt) {
      this.expiredFile(ctx.res);
      return;
    }
    const head = ctx.rec.method === 'HEAD';
    serveRoughBody(ctx.res, head, file.serve, file, head ? 0 : file.downloads++);
  }
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** JSON, multipart form fields (file parts as `{filename, type, size}`), or the text. */
async function parseRequestBody(raw: Buffer, contentType: string | undefined): Promise<unknown> {
  if (raw.length === 0) return undefined;
  const type = (contentType ?? '').toLowerCase();
  if (type.includes('multipart/form-data')) {
    try {
      const form = await new Response(raw, { headers: { 'content-type': contentType ?? '' } }).formData();
      const out: Record<string, unknown> = {};
      form.forEach((value, key) => {
        out[key] =
          typeof value === 'string' ? value : { filename: (value as File).name, type: value.type, size: value.size };
      });
      return out;
    } catch {
      return raw.toString('utf8');
    }
  }
  const text = raw.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** mulberry32: a small seeded PRNG in [0, 1), so a random fault mix (or a test's plan) can be replayed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Whether a body is a plain object. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
