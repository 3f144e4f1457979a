/**
 * A fake fal queue (`https://queue.fal.run`) on 127.0.0.1: `POST /{model_id}` with the input as the body →
 * `{request_id, response_url, status_url, cancel_url, queue_position}`; `GET /{app}/requests/{id}/status`
 * (202 IN_QUEUE / IN_PROGRESS, 200 COMPLETED; logs with `?logs=1`); `GET /{app}/requests/{id}` (the result,
 * or the failure: model errors `{detail:[{loc,msg,type}]}` with `X-Fal-Retryable`, request errors
 * `{detail, error_type}` with `X-Fal-Error-Type`; 400 while still running); `PUT /{app}/requests/{id}/cancel`
 * (202 CANCELLATION_REQUESTED, 400 ALREADY_COMPLETED, 404 NOT_FOUND). `{app}` is the first two segments of
 * the model id. `Authorization: Key <key_id:key_secret>`. Output files are CDN-like URLs that expire (404).
 *
 * `?fal_webhook=<url>` on submit: once the request ends, `{request_id, gateway_request_id, status: "OK" |
 * "ERROR", payload, error}` is POSTed there (unsigned here: fal's Ed25519 signature needs its JWKS);
 * `callbacks.mode = 'never'` stops that.
 *
 * Fault operations: `submit`, `status`, `result`, `cancel`, `file`. Outcomes: succeed, fail (`code` is the
 * error type: fal's request-error types such as `runner_disconnected` give the flat form, anything else a
 * model error; `retryable` sets `X-Fal-Retryable`; `status` the HTTP status).
 */
import type http from 'node:http';
import { randomUUID } from 'node:crypto';
import {
  FakeProvider,
  hex,
  isObject,
  mediaForModel,
  type ErrorAnswer,
  type ErrorKind,
  type FakeJob,
  type FakeOptions,
  type FaultSpec,
  type Operation,
  type RouteContext,
} from './fake-server';

/** fal's request-level error types (infrastructure), answered in the flat `{detail, error_type}` form. */
export const FAL_REQUEST_ERROR_TYPES = new Set([
  'request_timeout', 'startup_timeout', 'runner_scheduling_failure', 'runner_connection_timeout', 'runner_disconnected',
  'runner_connection_refused', 'runner_connection_error', 'runner_incomplete_response', 'runner_server_error',
  'client_disconnected', 'client_cancelled', 'bad_request', 'internal_error',
]);

/** Where audio results go: `audio_file` (stable-audio and most music models) or `audio`. */
export type FalAudioKey = 'audio_file' | 'audio';

/** Options of the fal fake. */
export interface FalFakeOptions extends FakeOptions {
  /** Whether a cancel of an IN_PROGRESS request stops it (the app decides on real fal). Default true. */
  honorCancelInProgress?: boolean;
}

/** The fake fal queue. `url` is `http://127.0.0.1:P` (the queue root). */
export class FalFake extends FakeProvider {
  protected readonly rootPath = '';
  /** Whether cancelling an IN_PROGRESS request stops it. */
  honorCancelInProgress: boolean;
  /** Result key for audio outputs. */
  audioKey: FalAudioKey = 'audio_file';

  constructor(opts: FalFakeOptions = {}) {
    super(opts, { apiKey: `${randomUUID()}:${hex(16)}`, outputTtlMs: 60 * 60 * 1000 });
    this.honorCancelInProgress = opts.honorCancelInProgress ?? true;
  }

  protected authorized(req: http.IncomingMessage): boolean {
    return req.headers.authorization === `Key ${this.apiKey}`;
  }

  protected override successStatus(op: Operation): number {
    return op === 'status' ? 202 : 200;
  }

  /** Dead CDN URLs answer 404. */
  protected override expiredFile(res: http.ServerResponse): void {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ detail: 'File not found' }));
  }

  protected async route(ctx: RouteContext): Promise<boolean> {
    const { method, path } = ctx.rec;
    const segments = path.split('/').filter(Boolean).map(decodeURIComponent);
    if (method === 'POST' && segments.length >= 2) {
      await this.submit(ctx, segments.join('/'));
      return true;
    }
    if (segments.length < 4 || segments[2] !== 'requests') return false;
    const app = `${segments[0]}/${segments[1]}`;
    const id = segments[3];
    const tail = segments.slice(4).join('/');
    const job = this.jobs.get(id);
    const mine = job !== undefined && job.extra.app === app;
    if (method === 'GET' && tail === 'status') {
      if (await this.fault(ctx, 'status')) return true;
      if (!mine) return this.requestNotFound(ctx);
      this.status(ctx, job);
      return true;
    }
    if (method === 'GET' && tail === '') {
      if (await this.fault(ctx, 'result')) return true;
      if (!mine) return this.requestNotFound(ctx);
      this.result(ctx, job);
      return true;
    }
    if (method === 'PUT' && tail === 'cancel') {
      if (await this.fault(ctx, 'cancel')) return true;
      if (!mine) {
        this.json(ctx.res, 404, { status: 'NOT_FOUND' });
        return true;
      }
      const phase = this.phase(job);
      if (phase === 'queued' || (phase === 'running' && this.honorCancelInProgress)) {
        job.cancelledAt = Date.now();
        this.json(ctx.res, 202, { status: 'CANCELLATION_REQUESTED' });
      } else if (phase === 'running') {
        this.json(ctx.res, 202, { status: 'CANCELLATION_REQUESTED' });
      } else {
        this.json(ctx.res, 400, { status: 'ALREADY_COMPLETED' });
      }
      return true;
    }
    return false;
  }

  private async submit(ctx: RouteContext, model: string): Promise<void> {
    if (await this.fault(ctx, 'submit')) return;
    const input = ctx.rec.body;
    if (!isObject(input)) {
      this.json(ctx.res, 422, { detail: [{ loc: ['body'], msg: 'Input should be a valid dictionary', type: 'dict_type' }] });
      return;
    }
    const app = model.split('/').slice(0, 2).join('/');
    const id = randomUUID();
    const media = mediaForModel(model);
    const count = typeof input.num_images === 'number' ? input.num_images : undefined;
    const seconds = Number(input.duration ?? input.seconds_total ?? NaN);
    const ahead = [...this.jobs.values()].filter((j) => this.phase(j) === 'queued').length;
    const job = this.createJob(id, model, input, { media, outputCount: count, seconds: Number.isFinite(seconds) ? seconds : undefined });
    job.extra.app = app;
    const webhook = ctx.rec.query.fal_webhook;
    if (webhook) this.callbacks.watch(webhook, () => this.finished(job), () => ({ headers: {}, body: JSON.stringify(this.webhookBody(job)) }));
    const urls = this.urls(job);
    this.json(ctx.res, 200, { status: 'IN_QUEUE', request_id: id, ...urls, queue_position: ahead });
  }

  private urls(job: FakeJob): { response_url: string; status_url: string; cancel_url: string } {
    const root = `${this.origin}/${String(job.extra.app)}/requests/${job.id}`;
    return { response_url: root, status_url: `${root}/status`, cancel_url: `${root}/cancel` };
  }

  private status(ctx: RouteContext, job: FakeJob): void {
    const phase = this.phase(job);
    const withLogs = ['1', 'true'].includes(ctx.url.searchParams.get('logs') ?? '');
    const { response_url } = this.urls(job);
    if (phase === 'queued') {
      const ahead = [...this.jobs.values()].filter((j) => j !== job && j.createdAt < job.createdAt && this.phase(j) === 'queued').length;
      this.json(ctx.res, 202, { status: 'IN_QUEUE', queue_position: ahead, response_url });
      return;
    }
    const logs = withLogs ? this.logs(job, phase) : undefined;
    if (phase === 'running') {
      this.json(ctx.res, 202, { status: 'IN_PROGRESS', ...(logs ? { logs } : {}), response_url });
      return;
    }
    const inference = Math.max(0, (this.finishedAt(job) - Math.min(job.startAt, this.finishedAt(job))) / 1000);
    this.json(ctx.res, 200, { status: 'COMPLETED', ...(logs ? { logs } : {}), metrics: { inference_time: inference }, response_url });
  }

  private finished(job: FakeJob): boolean {
    const phase = this.phase(job);
    return phase !== 'queued' && phase !== 'running';
  }

  /** fal's webhook body: the result as `payload` when it succeeded, else `error`. */
  webhookBody(job: FakeJob): Record<string, unknown> {
    const ok = this.phase(job) === 'succeeded';
    return {
      request_id: job.id,
      gateway_request_id: job.id,
      status: ok ? 'OK' : 'ERROR',
      payload: ok ? this.output(job) : null,
      ...(ok ? {} : { error: 'Request failed' }),
    };
  }

  private logs(job: FakeJob, phase: string): Record<string, unknown>[] {
    if (phase === 'queued') return [];
    const at = new Date(Math.min(job.startAt, Date.now())).toISOString();
    return [{ message: 'Generating...', level: 'INFO', source: 'user', timestamp: at }];
  }

  private result(ctx: RouteContext, job: FakeJob): void {
    const phase = this.phase(job);
    if (phase === 'queued' || phase === 'running') {
      this.json(ctx.res, 400, { detail: 'Request is still in progress' });
      return;
    }
    if (phase === 'cancelled') {
      this.json(ctx.res, 499, { detail: 'Request was cancelled by the client', error_type: 'client_cancelled' }, { 'x-fal-error-type': 'client_cancelled' });
      return;
    }
    const outcome = job.plan.outcome;
    if (outcome.kind === 'fail') {
      const headers: Record<string, string> = {};
      if (outcome.retryable !== undefined) headers['x-fal-retryable'] = String(outcome.retryable);
      if (outcome.code !== undefined && FAL_REQUEST_ERROR_TYPES.has(outcome.code)) {
        headers['x-fal-error-type'] = outcome.code;
        this.json(ctx.res, outcome.status ?? requestErrorStatus(outcome.code), { detail: outcome.message ?? 'Request failed', error_type: outcome.code }, headers);
        return;
      }
      const type = outcome.code ?? (outcome.retryable ? 'internal_server_error' : 'generation_error');
      const status = outcome.status ?? (outcome.retryable ? 500 : 422);
      this.json(
        ctx.res,
        status,
        { detail: [{ loc: ['body'], msg: outcome.message ?? 'The model failed to generate an output.', type, url: `https://docs.fal.ai/errors#${type}` }] },
        headers,
      );
      return;
    }
    this.json(ctx.res, 200, this.output(job));
  }

  /** The model's result: `images[]`, `video` or `audio_file` / `audio`. */
  private output(job: FakeJob): Record<string, unknown> {
    const files = this.outputs(job);
    const input = job.body as Record<string, unknown>;
    const file = (f: (typeof files)[number], i: number) => ({
      url: f.url,
      content_type: f.contentType,
      file_name: `output_${i}.${job.media}`,
      file_size: f.bytes.length,
    });
    if (job.media === 'png') {
      return {
        images: files.map((f, i) => ({ ...file(f, i), width: 64, height: 64 })),
        timings: { inference: 0.42 },
        seed: typeof input.seed === 'number' ? input.seed : 42,
        has_nsfw_concepts: files.map(() => false),
        prompt: input.prompt ?? '',
      };
    }
    if (job.media === 'mp4') return { video: file(files[0], 0), seed: typeof input.seed === 'number' ? input.seed : 42 };
    return { [this.audioKey]: file(files[0], 0) };
  }

  private requestNotFound(ctx: RouteContext): true {
    this.json(ctx.res, 404, { detail: 'Request not found' });
    return true;
  }

  protected errorAnswer(kind: ErrorKind, fault?: FaultSpec, ctx?: RouteContext): ErrorAnswer {
    const msg = (m: string) => fault?.message ?? m;
    switch (kind) {
      case 'unauthorized': {
        const app = (ctx?.rec.path ?? '/').split('/').filter(Boolean).slice(0, 2).join('/');
        return { status: 401, body: { detail: msg(`Cannot access application '${app}'. Authentication is required to access this application.`) } };
      }
      case 'policy': {
        const type = fault?.code ?? 'content_policy_violation';
        return {
          status: fault?.status ?? 422,
          body: { detail: [{ loc: ['body', 'prompt'], msg: msg('The content could not be processed because it contained material flagged by a content checker.'), type, url: `https://docs.fal.ai/errors#${type}` }] },
          headers: { 'x-fal-retryable': 'false' },
        };
      }
      case 'invalid':
        return {
          status: fault?.status ?? 422,
          body: { detail: [{ loc: ['body', 'image_size'], msg: msg("Input should be 'square_hd', 'square', 'portrait_4_3', 'portrait_16_9', 'landscape_4_3' or 'landscape_16_9'"), type: fault?.code ?? 'literal_error' }] },
          headers: { 'x-fal-retryable': 'false' },
        };
      case 'rate_limited':
        return { status: 429, body: { detail: msg('Rate limit exceeded. Too many concurrent requests.') }, headers: this.retryHeaders(fault, '1') };
      case 'server_error':
        return { status: fault?.status ?? 500, body: { detail: msg('Internal Server Error') } };
      case 'unavailable':
        return { status: fault?.status ?? 503, body: { detail: msg('Service Unavailable') }, headers: this.retryHeaders(fault) };
      case 'not_found':
        return { status: 404, body: { detail: msg('Not Found') } };
    }
  }
}

/** Starts a fake fal queue. */
export async function startFalFake(opts: FalFakeOptions = {}): Promise<FalFake> {
  return new FalFake(opts).start();
}

function requestErrorStatus(type: string): number {
  if (type === 'request_timeout' || type === 'startup_timeout') return 504;
  if (type === 'runner_incomplete_response') return 502;
  if (type === 'runner_server_error' || type === 'internal_error') return 500;
  if (type === 'bad_request') return 400;
  if (type.startsWith('client_')) return 499;
  return 503;
}
