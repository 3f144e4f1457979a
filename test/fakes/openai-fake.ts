/**
 * A fake OpenAI API on 127.0.0.1: `POST /v1/images/generations` (synchronous; gpt-image models answer
 * `b64_json`, dall-e models `url`s that expire), `POST /v1/videos` (JSON or multipart) with
 * `GET /v1/videos/{id}` and `GET /v1/videos/{id}/content` (auth required, expires), `DELETE /v1/videos/{id}`
 * (no cancel exists), plus chat, embeddings and models (openai-chat.ts). `Authorization: Bearer <key>`;
 * errors `{"error":{"message","type","param","code"}}`; timestamps in unix seconds.
 *
 * Fault operations: `submit` (images and videos), `status`, `content`, `cancel` (DELETE), `chat`,
 * `embeddings`, `file`.
 */
import type http from 'node:http';
import { randomBytes } from 'node:crypto';
import {
  FakeProvider,
  hex,
  isObject,
  sleep,
  type ErrorAnswer,
  type ErrorKind,
  type FakeJob,
  type FakeOptions,
  type FaultSpec,
  type Operation,
  type RouteContext,
} from './fake-server';
import { OpenAIChatFake } from './openai-chat';

const IMAGE_PARAMS = new Set([
  'model', 'prompt', 'n', 'size', 'quality', 'response_format', 'style', 'user', 'background', 'moderation',
  'output_compression', 'output_format', 'partial_images', 'stream', 'input_fidelity',
]);
const VIDEO_PARAMS = new Set(['model', 'prompt', 'seconds', 'size', 'input_reference']);
const VIDEO_SECONDS = ['4', '8', '12'];
const VIDEO_SIZES = ['720x1280', '1280x720', '1024x1792', '1792x1024'];
const IMAGE_SIZES: Record<string, string[]> = {
  'dall-e-2': ['256x256', '512x512', '1024x1024'],
  'dall-e-3': ['1024x1024', '1792x1024', '1024x1792'],
  'gpt-image': ['auto', '1024x1024', '1536x1024', '1024x1536'],
};

/** A key shaped like OpenAI's project keys. */
export function openAIKey(): string {
  return `sk-proj-${mixedCase(48)}`;
}

/** The fake OpenAI server. `url` is `http://127.0.0.1:P/v1`. */
export class OpenAIFake extends FakeProvider {
  protected readonly rootPath = '/v1';
  /** Chat completions, embeddings and models: reply text, stream cuts, usage. */
  readonly chat: OpenAIChatFake;

  constructor(opts: FakeOptions = {}) {
    super(opts, { apiKey: openAIKey(), outputTtlMs: 60 * 60 * 1000 });
    this.chat = new OpenAIChatFake({
      fault: (ctx, op) => this.fault(ctx, op),
      error: (ctx, kind, fault) => this.error(ctx, kind, fault),
      json: (ctx, status, body) => this.json(ctx.res, status, body),
    });
  }

  override reset(): this {
    super.reset();
    this.chat.reset();
    return this;
  }

  protected authorized(req: http.IncomingMessage): boolean {
    return req.headers.authorization === `Bearer ${this.apiKey}`;
  }

  protected override successStatus(_op: Operation): number {
    return 200;
  }

  protected async route(ctx: RouteContext): Promise<boolean> {
    const { method, path } = ctx.rec;
    if (!path.startsWith('/v1/')) return false;
    const sub = path.slice(3);
    if (await this.chat.handle(ctx, sub)) return true;
    if (method === 'POST' && sub === '/images/generations') {
      await this.createImages(ctx);
      return true;
    }
    if (method === 'POST' && sub === '/videos') {
      await this.createVideo(ctx);
      return true;
    }
    if (method === 'GET' && sub === '/videos') {
      if (await this.fault(ctx, 'status')) return true;
      const data = [...this.jobs.values()].filter((j) => j.id.startsWith('video_')).reverse().map((j) => this.videoObject(j));
      this.json(ctx.res, 200, { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data[data.length - 1]?.id ?? null, has_more: false });
      return true;
    }
    const m = /^\/videos\/([^/]+)(\/content)?$/.exec(sub);
    if (!m) return false;
    const job = this.jobs.get(decodeURIComponent(m[1]));
    if (method === 'GET' && !m[2]) {
      if (await this.fault(ctx, 'status')) return true;
      if (!job || !job.id.startsWith('video_')) return this.videoNotFound(ctx, m[1]);
      this.json(ctx.res, 200, this.videoObject(job));
      return true;
    }
    if (method === 'GET' && m[2]) {
      if (await this.fault(ctx, 'content')) return true;
      if (!job || !job.id.startsWith('video_')) return this.videoNotFound(ctx, m[1]);
      this.serveContent(ctx, job);
      return true;
    }
    if (method === 'DELETE' && !m[2]) {
      if (await this.fault(ctx, 'cancel')) return true;
      if (!job || !job.id.startsWith('video_')) return this.videoNotFound(ctx, m[1]);
      const phase = this.phase(job);
      if (phase !== 'succeeded' && phase !== 'failed') {
        this.invalid(ctx, 'Only completed or failed videos can be deleted.', null, null);
        return true;
      }
      this.jobs.delete(job.id);
      this.json(ctx.res, 200, { id: job.id, object: 'video.deleted', deleted: true });
      return true;
    }
    return false;
  }

  private async createImages(ctx: RouteContext): Promise<void> {
    if (await this.fault(ctx, 'submit')) return;
    const body = ctx.rec.body;
    if (!isObject(body)) return this.invalid(ctx, 'We could not parse the JSON body of your request.', null, null);
    const unknown = Object.keys(body).find((k) => !IMAGE_PARAMS.has(k));
    if (unknown) return this.invalid(ctx, `Unknown parameter: '${unknown}'.`, unknown, 'unknown_parameter');
    if (typeof body.prompt !== 'string' || !body.prompt) {
      return this.invalid(ctx, "Missing required parameter: 'prompt'.", 'prompt', 'missing_required_parameter');
    }
    const model = typeof body.model === 'string' ? body.model : 'dall-e-2';
    const family = model.startsWith('gpt-image') ? 'gpt-image' : model.startsWith('dall-e-3') ? 'dall-e-3' : 'dall-e-2';
    const n = body.n === undefined ? 1 : body.n;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 10 || (family === 'dall-e-3' && n !== 1)) {
      return this.invalid(ctx, `Invalid 'n': ${String(n)}. ${family === 'dall-e-3' ? 'dall-e-3 only supports n=1.' : 'Expected an integer between 1 and 10.'}`, 'n', 'invalid_value');
    }
    if (body.size !== undefined && !IMAGE_SIZES[family].includes(String(body.size))) {
      return this.invalid(ctx, `Invalid value: '${String(body.size)}'. Supported values are: ${IMAGE_SIZES[family].map((s) => `'${s}'`).join(', ')}.`, 'size', 'invalid_value');
    }
    if (family === 'gpt-image' && body.response_format !== undefined) {
      return this.invalid(ctx, "Unknown parameter: 'response_format'.", 'response_format', 'unknown_parameter');
    }
    const job = this.createJob(`img_${hex(12)}`, model, body, { media: 'png', outputCount: n });
    const wait = job.plan.queueMs + job.plan.runMs;
    if (Number.isFinite(wait) && wait > 0) await sleep(wait);
    job.startAt = Math.min(job.startAt, Date.now());
    job.endAt = Math.min(job.endAt, Date.now());
    const outcome = job.plan.outcome;
    if (outcome.kind === 'fail') {
      const policy = outcome.code === 'moderation_blocked' || outcome.code === 'content_policy_violation';
      this.error(ctx, policy ? 'policy' : 'server_error', { kind: policy ? 'policy' : 'server_error', code: outcome.code, message: outcome.message, status: outcome.status });
      return;
    }
    const files = this.outputs(job);
    const b64 = family === 'gpt-image' || body.response_format === 'b64_json';
    const data = files.map((f) =>
      b64 ? { b64_json: f.bytes.toString('base64') } : { url: f.url, revised_prompt: family === 'dall-e-3' ? `${body.prompt as string}` : undefined },
    );
    const created = Math.floor(Date.now() / 1000);
    const answer: Record<string, unknown> = { created, data };
    if (family === 'gpt-image') {
      const input = Math.ceil((body.prompt as string).length / 4);
      answer.background = 'opaque';
      answer.output_format = 'png';
      answer.quality = typeof body.quality === 'string' ? body.quality : 'high';
      answer.size = typeof body.size === 'string' && body.size !== 'auto' ? body.size : '1024x1024';
      answer.usage = {
        input_tokens: input,
        input_tokens_details: { image_tokens: 0, text_tokens: input },
        output_tokens: 272 * n,
        total_tokens: input + 272 * n,
      };
    }
    this.json(ctx.res, 200, answer);
  }

  private async createVideo(ctx: RouteContext): Promise<void> {
    if (await this.fault(ctx, 'submit')) return;
    const body = ctx.rec.body;
    if (!isObject(body)) return this.invalid(ctx, 'We could not parse the JSON body of your request.', null, null);
    const unknown = Object.keys(body).find((k) => !VIDEO_PARAMS.has(k));
    if (unknown) return this.invalid(ctx, `Unknown parameter: '${unknown}'.`, unknown, 'unknown_parameter');
    if (typeof body.prompt !== 'string' || !body.prompt) {
      return this.invalid(ctx, "Missing required parameter: 'prompt'.", 'prompt', 'missing_required_parameter');
    }
    const model = body.model === undefined ? 'sora-2' : body.model;
    if (typeof model !== 'string' || !/^sora-2(-pro)?(-\d{4}-\d{2}-\d{2})?$/.test(model)) {
      return this.invalid(ctx, `Invalid value: '${String(model)}'. Supported values are: 'sora-2' and 'sora-2-pro'.`, 'model', 'invalid_value');
    }
    if (body.seconds !== undefined) {
      if (typeof body.seconds !== 'string') {
        return this.invalid(ctx, `Invalid type for 'seconds': expected one of '4', '8', or '12', but got ${typeof body.seconds === 'number' ? 'an integer' : typeof body.seconds} instead.`, 'seconds', 'invalid_type');
      }
      if (!VIDEO_SECONDS.includes(body.seconds)) {
        return this.invalid(ctx, `Invalid value: '${body.seconds}'. Supported values are: '4', '8', and '12'.`, 'seconds', 'invalid_value');
      }
    }
    if (body.size !== undefined && (typeof body.size !== 'string' || !VIDEO_SIZES.includes(body.size))) {
      return this.invalid(ctx, `Invalid value: '${String(body.size)}'. Supported values are: ${VIDEO_SIZES.map((s) => `'${s}'`).join(', ')}.`, 'size', 'invalid_value');
    }
    if (body.input_reference !== undefined) {
      const ref = body.input_reference;
      const ok = isObject(ref) && (typeof ref.image_url === 'string' || typeof ref.file_id === 'string' || typeof ref.filename === 'string');
      if (!ok) return this.invalid(ctx, "Invalid 'input_reference': expected a file upload or an object with 'image_url' or 'file_id'.", 'input_reference', 'invalid_type');
    }
    const seconds = Number(body.seconds ?? '4');
    const job = this.createJob(`video_${hex(20)}`, model, body, { media: 'mp4', seconds });
    job.extra.size = typeof body.size === 'string' ? body.size : '720x1280';
    job.extra.prompt = body.prompt;
    this.json(ctx.res, 200, this.videoObject(job));
  }

  /** The video object as OpenAI returns it. */
  videoObject(job: FakeJob): Record<string, unknown> {
    const now = Date.now();
    const phase = this.phase(job, now);
    const status = phase === 'queued' ? 'queued' : phase === 'running' ? 'in_progress' : phase === 'succeeded' ? 'completed' : 'failed';
    const final = status === 'completed' || status === 'failed';
    const completedAt = final ? Math.floor(this.finishedAt(job) / 1000) : null;
    const outcome = job.plan.outcome;
    const error =
      status === 'failed' && outcome.kind === 'fail'
        ? { code: outcome.code ?? 'video_generation_failed', message: outcome.message ?? 'Video generation failed.' }
        : null;
    return {
      id: job.id,
      object: 'video',
      created_at: Math.floor(job.createdAt / 1000),
      status,
      completed_at: completedAt,
      error,
      expires_at: status === 'completed' ? Math.floor(this.outputs(job)[0].expiresAt / 1000) : null,
      model: job.model,
      progress: status === 'failed' ? this.progressAtFailure(job) : this.progress(job, now),
      prompt: job.extra.prompt ?? null,
      remixed_from_video_id: null,
      seconds: String(job.seconds),
      size: job.extra.size,
    };
  }

  private progressAtFailure(job: FakeJob): number {
    return job.progress ?? 0;
  }

  private serveContent(ctx: RouteContext, job: FakeJob): void {
    const phase = this.phase(job);
    if (phase !== 'succeeded') {
      this.invalid(ctx, `Video is not ready yet, use GET /v1/videos/${job.id} to check status.`, null, null);
      return;
    }
    const file = this.outputs(job)[0];
    if (Date.now() >= file.expiresAt) {
      this.json(ctx.res, 404, {
        error: { message: `The content for video '${job.id}' has expired.`, type: 'invalid_request_error', param: null, code: 'video_content_expired' },
      });
      return;
    }
    const variant = ctx.url.searchParams.get('variant') ?? 'video';
    if (variant !== 'video') {
      const thumb = (job.extra.thumbnail as Buffer | undefined) ?? this.addFile(job, 99, 'png').bytes;
      job.extra.thumbnail = thumb;
      ctx.res.writeHead(200, { 'content-type': 'image/png', 'content-length': thumb.length });
      ctx.res.end(thumb);
      return;
    }
    ctx.res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': file.bytes.length });
    ctx.res.end(file.bytes);
  }

  private videoNotFound(ctx: RouteContext, id: string): true {
    this.json(ctx.res, 404, {
      error: { message: `Video with id '${decodeURIComponent(id)}' not found.`, type: 'invalid_request_error', param: null, code: 'video_not_found' },
    });
    return true;
  }

  private invalid(ctx: RouteContext, message: string, param: string | null, code: string | null): void {
    this.json(ctx.res, 400, { error: { message, type: 'invalid_request_error', param, code } });
  }

  protected errorAnswer(kind: ErrorKind, fault?: FaultSpec, ctx?: RouteContext): ErrorAnswer {
    const e = (status: number, message: string, type: string, code: string | null, param: string | null = null, headers?: Record<string, string>): ErrorAnswer => ({
      status,
      body: { error: { message: fault?.message ?? message, type, param, code: fault?.code ?? code } },
      headers,
    });
    switch (kind) {
      case 'unauthorized': {
        const auth = ctx?.req.headers.authorization;
        if (!auth || !auth.startsWith('Bearer ')) {
          return e(401, "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.", 'invalid_request_error', null);
        }
        return e(401, `Incorrect API key provided: ${mask(auth.slice(7))}. You can find your API key at https://platform.openai.com/account/api-keys.`, 'invalid_request_error', 'invalid_api_key');
      }
      case 'policy':
        return e(fault?.status ?? 400, 'Your request was rejected by the safety system. If you believe this is an error, contact us at help.openai.com and include the request ID req_' + hex(16) + '.', 'image_generation_user_error', 'moderation_blocked');
      case 'invalid':
        return e(fault?.status ?? 400, "Invalid value: 'banana'. Supported values are: '1024x1024'.", 'invalid_request_error', 'invalid_value', 'size');
      case 'rate_limited':
        return e(429, 'Rate limit reached for requests per min (RPM): Limit 5, Used 5, Requested 1. Please try again in 1s.', 'requests', 'rate_limit_exceeded', null, this.retryHeaders(fault, '1'));
      case 'server_error':
        return e(fault?.status ?? 500, 'The server had an error while processing your request. Sorry about that!', 'server_error', null);
      case 'unavailable':
        return e(fault?.status ?? 503, 'The engine is currently overloaded, please try again later', 'server_error', null, null, this.retryHeaders(fault));
      case 'not_found':
        return e(404, `Invalid URL (${ctx?.rec.method ?? 'GET'} ${ctx?.rec.path ?? '/'})`, 'invalid_request_error', null);
    }
  }
}

/** Starts a fake OpenAI server. */
export async function startOpenAIFake(opts: FakeOptions = {}): Promise<OpenAIFake> {
  return new OpenAIFake(opts).start();
}

/** `sk-proj-abcd...wxyz` → `sk-proj-****...wxyz`, as OpenAI echoes a wrong key. */
function mask(key: string): string {
  if (key.length <= 12) return `${key.slice(0, 3)}${'*'.repeat(Math.max(0, key.length - 3))}`;
  return `${key.slice(0, 8)}${'*'.repeat(key.length - 12)}${key.slice(-4)}`;
}

function mixedCase(length: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(length);
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[bytes[i] % alphabet.length];
  return out;
}
