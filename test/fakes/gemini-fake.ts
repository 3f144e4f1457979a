/**
 * A fake Gemini API (Veo video) on 127.0.0.1, root `/v1beta`: `POST /models/{model}:predictLongRunning`
 * → `{name:"models/{model}/operations/{id}"}`; `GET /models/{model}/operations/{id}` → the operation (no
 * status enum: `done` absent while running; once done, `response.generateVideoResponse.generatedSamples`,
 * RAI-filtered counts and reasons, or a gRPC `error`); `GET /files/{id}:download?alt=media` needs the key
 * and answers 302 to the storage file on ANOTHER origin (`localhost` instead of `127.0.0.1`), which records
 * whether the key followed. Auth `x-goog-api-key`: a missing key is 403 PERMISSION_DENIED, a wrong one 400
 * INVALID_ARGUMENT with reason API_KEY_INVALID, as Google answers. Errors are google.rpc.Status bodies; a
 * 429 says how long to wait only in `RetryInfo.retryDelay`. Unknown or retired models are 404. Parameters
 * the Gemini API refuses (Vertex-only `seed`, `generateAudio`...) are 400; `sampleCount` is capped at 1.
 *
 * Fault operations: `submit`, `status`, `content` (the file download), `file` (storage). Outcomes: succeed;
 * fail with `code: "rai"` (every video filtered, `message` the reason) or a numeric gRPC `code` string.
 */
import type http from 'node:http';
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

/** Veo models the fake knows (others, like the retired `veo-3.0-*`, are 404). */
export const VEO_MODELS = ['veo-3.1-generate-preview', 'veo-3.1-fast-generate-preview', 'veo-3.1-lite-generate-preview', 'veo-2.0-generate-001'];
const PARAMETERS = new Set(['aspectRatio', 'durationSeconds', 'resolution', 'personGeneration', 'negativePrompt', 'enhancePrompt', 'sampleCount', 'numberOfVideos']);
/** Refused by the Gemini API (Vertex only). */
const VERTEX_ONLY = new Set(['seed', 'generateAudio', 'fps', 'storageUri', 'pubsubTopic', 'mask', 'compressionQuality']);
const STATUS_BY_HTTP: Record<number, string> = {
  400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 408: 'DEADLINE_EXCEEDED',
  409: 'ABORTED', 422: 'INVALID_ARGUMENT', 429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 503: 'UNAVAILABLE', 504: 'DEADLINE_EXCEEDED',
};

/** The fake Gemini server. `url` is `http://127.0.0.1:P/v1beta`. */
export class GeminiFake extends FakeProvider {
  protected readonly rootPath = '/v1beta';

  constructor(opts: FakeOptions = {}) {
    super(opts, { apiKey: `AIza${hex(16)}`, outputTtlMs: 2 * 24 * 60 * 60 * 1000 });
  }

  protected authorized(req: http.IncomingMessage): boolean {
    return req.headers['x-goog-api-key'] === this.apiKey;
  }

  /** Storage downloads (after the redirect) that carried the key: must stay empty. */
  keyLeaks(): number {
    return this.requests.filter((r) => r.path.startsWith('/files/') && r.headers['x-goog-api-key'] !== undefined).length;
  }

  protected async route(ctx: RouteContext): Promise<boolean> {
    const { method, path } = ctx.rec;
    const create = /^\/v1beta\/models\/([^/:]+):predictLongRunning$/.exec(path);
    if (create && method === 'POST') {
      await this.create(ctx, decodeURIComponent(create[1]));
      return true;
    }
    const op = /^\/v1beta\/(models\/[^/]+\/operations\/[^/]+)$/.exec(path);
    if (op && method === 'GET') {
      if (await this.fault(ctx, 'status')) return true;
      const job = this.jobs.get(op[1]);
      if (!job) return this.reply(ctx, 404, 'NOT_FOUND', `Operation ${op[1]} not found.`);
      this.json(ctx.res, 200, this.operation(job));
      return true;
    }
    const file = /^\/v1beta\/files\/([^/:]+):download$/.exec(path);
    if (file && method === 'GET') {
      if (await this.fault(ctx, 'content')) return true;
      if (ctx.url.searchParams.get('alt') !== 'media') return this.reply(ctx, 400, 'INVALID_ARGUMENT', 'Only media downloads are supported: add alt=media.');
      const found = [...this.jobs.values()].flatMap((j) => (j.files ?? []).map((f) => ({ j, f }))).find(({ f }) => f.token === file[1]);
      if (!found || Date.now() >= found.f.expiresAt) return this.reply(ctx, 404, 'NOT_FOUND', `File files/${file[1]} not found.`);
      // The storage URL sits on another origin: a client that forwards the key there leaks it.
      const location = found.f.url.replace('://127.0.0.1:', '://localhost:');
      ctx.res.writeHead(302, { location, 'content-length': 0 });
      ctx.res.end();
      return true;
    }
    return false;
  }

  private async create(ctx: RouteContext, model: string): Promise<void> {
    if (await this.fault(ctx, 'submit')) return;
    if (!VEO_MODELS.includes(model)) {
      this.reply(ctx, 404, 'NOT_FOUND', `models/${model} is not found for API version v1beta, or is not supported for predictLongRunning.`);
      return;
    }
    const body = ctx.rec.body;
    const bad = (message: string) => this.reply(ctx, 400, 'INVALID_ARGUMENT', message);
    if (!isObject(body) || !Array.isArray(body.instances) || body.instances.length !== 1 || !isObject(body.instances[0])) {
      return void bad('Invalid JSON payload: exactly one instance is required.');
    }
    const instance = body.instances[0];
    if (typeof instance.prompt !== 'string' || !instance.prompt) return void bad('`prompt` is required.');
    const params = body.parameters === undefined ? {} : body.parameters;
    if (!isObject(params)) return void bad('Invalid JSON payload received. Unknown name "parameters".');
    for (const key of Object.keys(params)) {
      if (VERTEX_ONLY.has(key)) return void bad(`\`${key}\` isn't supported by the Gemini API.`);
      if (!PARAMETERS.has(key)) return void bad(`Invalid JSON payload received. Unknown name "${key}" at 'parameters'.`);
    }
    // The docs table spells durations as strings, the SDK as numbers: both are accepted.
    const duration = params.durationSeconds === undefined ? 8 : Number(params.durationSeconds);
    if (![4, 6, 8].includes(duration)) return void bad('The duration must be 4, 6 or 8 seconds.');
    const resolution = params.resolution ?? '720p';
    if (!['720p', '1080p', '4k'].includes(String(resolution))) return void bad(`Unsupported resolution ${String(resolution)}.`);
    if (resolution !== '720p' && duration !== 8) return void bad(`${String(resolution)} requires an 8 second duration.`);
    if (resolution === '4k' && model.includes('lite')) return void bad('4k is not supported by this model.');
    if (params.aspectRatio !== undefined && !['16:9', '9:16'].includes(String(params.aspectRatio))) return void bad('Unsupported aspect ratio.');
    const count = params.sampleCount ?? params.numberOfVideos ?? 1;
    if (count !== 1) return void bad('sampleCount must be 1 on the Gemini API.');
    const name = `models/${model}/operations/${hex(6)}`;
    this.createJob(name, model, body, { media: 'mp4', seconds: duration });
    this.json(ctx.res, 200, { name });
  }

  /** The operation as Google returns it. */
  operation(job: FakeJob): Record<string, unknown> {
    const phase = this.phase(job);
    if (phase === 'queued' || phase === 'running') return { name: job.id };
    const outcome = job.plan.outcome;
    if (outcome.kind === 'fail' && outcome.code === 'rai') {
      const response = { '@type': 'type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse', generateVideoResponse: { raiMediaFilteredCount: 1, raiMediaFilteredReasons: [outcome.message ?? 'The input image resembles a public figure.'] } };
      return { name: job.id, done: true, response };
    }
    if (outcome.kind === 'fail') {
      const code = Number(outcome.code ?? 13);
      return { name: job.id, done: true, error: { code: Number.isInteger(code) ? code : 13, message: outcome.message ?? 'Internal error encountered.' } };
    }
    const samples = this.outputs(job).map((f) => ({ video: { uri: `${this.url}/files/${f.token}:download?alt=media` } }));
    return {
      name: job.id,
      done: true,
      response: { '@type': 'type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse', generateVideoResponse: { generatedSamples: samples } },
    };
  }

  private reply(ctx: RouteContext, status: number, code: string, message: string): true {
    this.json(ctx.res, status, googleError(status, code, message));
    return true;
  }

  protected errorAnswer(kind: ErrorKind, fault?: FaultSpec, ctx?: RouteContext): ErrorAnswer {
    const e = (status: number, message: string, details?: unknown[], headers?: Record<string, string>): ErrorAnswer => ({
      status,
      body: googleError(status, fault?.code ?? STATUS_BY_HTTP[status] ?? 'UNKNOWN', fault?.message ?? message, details),
      headers,
    });
    switch (kind) {
      case 'unauthorized':
        if (fault) return e(401, 'Request had invalid authentication credentials.');
        if (ctx?.req.headers['x-goog-api-key'] === undefined) return e(403, 'Method doesn\'t allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.');
        return e(400, 'API key not valid. Please pass a valid API key.', [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com' }]);
      case 'policy':
        return e(fault?.status ?? 400, 'Your request was blocked because the prompt violates the Gemini API usage guidelines (safety).');
      case 'invalid':
        return e(fault?.status ?? 400, 'The duration must be 4, 6 or 8 seconds.');
      case 'rate_limited': {
        const headers: Record<string, string> = fault?.retryAfterMs !== undefined ? { 'retry-after-ms': String(fault.retryAfterMs) } : {};
        return e(429, 'You exceeded your current quota, please check your plan and billing details.', [
          { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaMetric: 'generativelanguage.googleapis.com/predict_long_running_requests', quotaId: 'PredictLongRunningRequestsPerMinutePerProject' }] },
          { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${fault?.retryAfter ?? '27'}s` },
        ], headers);
      }
      case 'server_error':
        return e(fault?.status ?? 500, 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting');
      case 'unavailable':
        return e(fault?.status ?? 503, 'The model is overloaded. Please try again later.');
      case 'not_found':
        return e(404, 'Requested entity was not found.');
    }
  }
}

/** Starts a fake Gemini server. */
export async function startGeminiFake(opts: FakeOptions = {}): Promise<GeminiFake> {
  return new GeminiFake(opts).start();
}

/** google.rpc.Status as the Gemini API sends it. */
function googleError(code: number, status: string, message: string, details?: unknown[]): Record<string, unknown> {
  return { error: { code, message, status, ...(details ? { details } : {}) } };
}
