/**
 * A fake MiniMax API on 127.0.0.1 (root ``, like `https://api.minimax.io`): `POST /v1/video_generation` →
 * `{task_id, base_resp}`, `GET /v1/query/video_generation?task_id=` (statuses Preparing, Queueing,
 * Processing, Success, Fail; `file_id` a string), `GET /v1/files/retrieve?file_id=` (`file_id` an int, a
 * fresh `download_url` at each call, each expiring) and the synchronous `POST /v1/music_generation` (audio as
 * hex, or a URL with `output_format:"url"`). `Authorization: Bearer <key>`.
 *
 * The trap: errors arrive as a non-zero `base_resp.status_code` inside **HTTP 200** (1004 a wrong key,
 * 1002 rate limit, 1008 no balance, 1026 sensitive input, 2013 invalid params, an unknown model included).
 * Scripted faults render that way; `code` picks another status code (`{kind: 'invalid', code: '1008'}`),
 * `status` another HTTP status. A failed task ends `Fail` with its code in `base_resp` (default 1027).
 *
 * Callbacks: a video created with `callback_url` first gets `{"challenge"}` POSTed there, which must be
 * echoed within 3 s; once echoed, each status change is pushed (lowercase `processing`/`success`/`failed`).
 * What MiniMax does after a failed handshake is undocumented: this fake keeps the task and pushes nothing.
 * `sendCallbacks = false` turns that off. Fault operations: `submit` (video and music), `status`,
 * `result` (files/retrieve), `file`.
 */
import type http from 'node:http';
import { randomUUID } from 'node:crypto';
import { wavBytes } from '../../src/media';
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

const VIDEO_MODELS = new Set([
  'MiniMax-Hailuo-2.3', 'MiniMax-Hailuo-2.3-Fast', 'MiniMax-Hailuo-02', 'T2V-01', 'T2V-01-Director',
  'I2V-01', 'I2V-01-Director', 'I2V-01-live', 'S2V-01',
]);
/** Models that need `first_frame_image`. */
const IMAGE_TO_VIDEO = new Set(['MiniMax-Hailuo-2.3-Fast', 'I2V-01', 'I2V-01-Director', 'I2V-01-live']);
const MUSIC_MODELS = new Set(['music-2.0', 'music-1.5', 'music-2.5']);
const RESOLUTIONS = ['512P', '768P', '1080P'];
const CHALLENGE_TIMEOUT_MS = 3000;

/** A callback the fake sent (or tried to). */
export interface SentCallback {
  url: string;
  body: Record<string, unknown>;
  /** The HTTP status received, or 0 when the call failed. */
  status: number;
  reply?: unknown;
}

/** Options of the MiniMax fake. */
export interface MiniMaxFakeOptions extends FakeOptions {
  /** Whether videos with a `callback_url` get the challenge and status pushes (default true). */
  sendCallbacks?: boolean;
}

/** The fake MiniMax server. `url` is `http://127.0.0.1:P`. */
export class MiniMaxFake extends FakeProvider {
  protected readonly rootPath = '';
  /** Whether videos with a `callback_url` get the challenge and status pushes. */
  sendCallbacks: boolean;
  /** Every callback sent, in order (challenges included). */
  readonly callbackLog: SentCallback[] = [];
  private readonly watchers = new Set<NodeJS.Timeout>();

  constructor(opts: MiniMaxFakeOptions = {}) {
    super(opts, { apiKey: `eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.${hex(24)}`, outputTtlMs: 9 * 60 * 60 * 1000 });
    this.sendCallbacks = opts.sendCallbacks ?? true;
  }

  override async close(): Promise<void> {
    for (const timer of this.watchers) clearInterval(timer);
    this.watchers.clear();
    await super.close();
  }

  protected authorized(req: http.IncomingMessage): boolean {
    return req.headers.authorization === `Bearer ${this.apiKey}`;
  }

  protected async route(ctx: RouteContext): Promise<boolean> {
    const { method, path } = ctx.rec;
    if (method === 'POST' && path === '/v1/video_generation') {
      if (!(await this.fault(ctx, 'submit'))) this.createVideo(ctx);
      return true;
    }
    if (method === 'POST' && path === '/v1/music_generation') {
      if (!(await this.fault(ctx, 'submit'))) this.music(ctx);
      return true;
    }
    if (method === 'GET' && path === '/v1/query/video_generation') {
      if (await this.fault(ctx, 'status')) return true;
      const job = this.jobs.get(ctx.url.searchParams.get('task_id') ?? '');
      if (!job || job.extra.kind !== 'video') return this.base(ctx, 2013, 'invalid params, task_id not found');
      this.json(ctx.res, 200, this.query(job));
      return true;
    }
    if (method === 'GET' && path === '/v1/files/retrieve') {
      if (await this.fault(ctx, 'result')) return true;
      const fileId = ctx.url.searchParams.get('file_id') ?? '';
      const job = [...this.jobs.values()].find((j) => j.extra.fileId === fileId && this.phase(j) === 'succeeded');
      if (!job) return this.base(ctx, 2013, 'invalid params, file not found');
      // Each retrieve signs a new URL, valid `outputTtlMs` from now.
      const file = this.addFile(job, 0, 'mp4');
      file.expiresAt = Date.now() + this.outputTtlMs;
      this.json(ctx.res, 200, {
        file: {
          file_id: Number(fileId),
          bytes: file.bytes.length,
          created_at: Math.floor(this.finishedAt(job) / 1000),
          filename: 'output.mp4',
          purpose: 'video_generation',
          download_url: file.url,
          backup_download_url: file.url,
        },
        base_resp: { status_code: 0, status_msg: 'success' },
      });
      return true;
    }
    return false;
  }

  private createVideo(ctx: RouteContext): void {
    const body = ctx.rec.body;
    if (!isObject(body)) return void this.base(ctx, 2013, 'invalid params, body is not json');
    const model = body.model;
    if (typeof model !== 'string' || !VIDEO_MODELS.has(model)) return void this.base(ctx, 2013, `invalid params, model ${String(model)} not support`);
    if (body.prompt !== undefined && (typeof body.prompt !== 'string' || body.prompt.length > 2000)) return void this.base(ctx, 2013, 'invalid params, prompt');
    if (IMAGE_TO_VIDEO.has(model) && typeof body.first_frame_image !== 'string') return void this.base(ctx, 2013, 'invalid params, first_frame_image is required');
    if (!IMAGE_TO_VIDEO.has(model) && typeof body.prompt !== 'string') return void this.base(ctx, 2013, 'invalid params, prompt is required');
    const duration = body.duration ?? 6;
    if (duration !== 6 && duration !== 10) return void this.base(ctx, 2013, 'invalid params, duration must be 6 or 10');
    const resolution = body.resolution ?? '768P';
    if (typeof resolution !== 'string' || !RESOLUTIONS.includes(resolution)) return void this.base(ctx, 2013, 'invalid params, resolution');
    if (resolution === '1080P' && duration !== 6) return void this.base(ctx, 2013, 'invalid params, 1080P supports 6s only');
    if (body.callback_url !== undefined && typeof body.callback_url !== 'string') return void this.base(ctx, 2013, 'invalid params, callback_url');
    const id = String(100_000_000_000_000 + Math.floor(Math.random() * 899_999_999_999_999));
    const job = this.createJob(id, model, body, { media: 'mp4', seconds: duration });
    job.extra.kind = 'video';
    job.extra.resolution = resolution;
    job.extra.fileId = String(300_000_000_000_000 + Math.floor(Math.random() * 99_999_999_999_999));
    this.json(ctx.res, 200, { task_id: id, base_resp: { status_code: 0, status_msg: 'success' } });
    if (typeof body.callback_url === 'string' && this.sendCallbacks) void this.handshake(job, body.callback_url);
  }

  private music(ctx: RouteContext): void {
    const body = ctx.rec.body;
    if (!isObject(body)) return void this.base(ctx, 2013, 'invalid params, body is not json');
    const model = body.model;
    if (typeof model !== 'string' || !MUSIC_MODELS.has(model)) return void this.base(ctx, 2013, `invalid params, model ${String(model)} not support`);
    const max = model === 'music-1.5' ? 300 : 2000;
    if (typeof body.prompt !== 'string' || body.prompt.length === 0 || body.prompt.length > max) return void this.base(ctx, 2013, 'invalid params, prompt');
    if (body.is_instrumental !== true && (typeof body.lyrics !== 'string' || body.lyrics.length < 1 || body.lyrics.length > 3500)) {
      return void this.base(ctx, 2013, 'invalid params, lyrics is required');
    }
    const setting = isObject(body.audio_setting) ? body.audio_setting : {};
    const format = setting.format ?? 'mp3';
    if (format !== 'mp3' && format !== 'wav' && format !== 'pcm') return void this.base(ctx, 2013, 'invalid params, audio_setting.format');
    const outputFormat = body.output_format ?? 'hex';
    if (outputFormat !== 'hex' && outputFormat !== 'url') return void this.base(ctx, 2013, 'invalid params, output_format');
    if (body.stream === true) return void this.base(ctx, 2013, 'invalid params, this fake does not stream');
    const id = `music-${hex(8)}`;
    const job = this.createJob(id, model, body, { media: 'wav', seconds: 30 });
    job.extra.kind = 'music';
    if (job.plan.outcome.kind === 'fail') {
      return void this.base(ctx, Number(job.plan.outcome.code ?? 1027), job.plan.outcome.message ?? 'output new_sensitive');
    }
    const bytes = format === 'wav' ? wavBytes({ seconds: job.seconds, seed: id }) : fakeMp3(job.seconds, id);
    job.extra.audio = bytes;
    let audio = bytes.toString('hex');
    if (outputFormat === 'url') {
      const file = this.addFile(job, 0, 'wav');
      file.bytes = bytes;
      file.contentType = format === 'wav' ? 'audio/wav' : 'audio/mpeg';
      audio = file.url;
    }
    this.json(
      ctx.res,
      200,
      {
        data: { status: 2, audio },
        extra_info: { music_duration: job.seconds * 1000, music_sample_rate: 44100, music_channel: 2, bitrate: 256000, music_size: bytes.length },
        trace_id: hex(16),
        base_resp: { status_code: 0, status_msg: 'success' },
      },
      { 'trace-id': hex(16) },
    );
  }

  /** The query body of a video task. */
  query(job: FakeJob, lowercase = false): Record<string, unknown> {
    const phase = this.phase(job);
    const status = statusOf(phase, job, lowercase);
    const outcome = job.plan.outcome;
    const failed = phase === 'failed' && outcome.kind === 'fail';
    const [w, h] = job.extra.resolution === '1080P' ? [1920, 1080] : job.extra.resolution === '512P' ? [910, 512] : [1366, 768];
    return {
      task_id: job.id,
      status,
      file_id: phase === 'succeeded' ? job.extra.fileId : '',
      ...(phase === 'succeeded' ? { video_width: w, video_height: h } : {}),
      base_resp: failed
        ? { status_code: Number(outcome.code ?? 1027), status_msg: outcome.message ?? 'output new_sensitive' }
        : { status_code: 0, status_msg: 'success' },
    };
  }

  /** The challenge first; once echoed, every status change is pushed until the task ends. */
  private async handshake(job: FakeJob, url: string): Promise<void> {
    const challenge = hex(16);
    const answer = await this.post(url, { challenge });
    const echoed = isObject(answer.reply) && answer.reply.challenge === challenge && answer.status === 200;
    job.extra.callbackVerified = echoed;
    if (!echoed) return;
    let last = '';
    const timer = setInterval(() => {
      const phase = this.phase(job);
      const status = statusOf(phase, job, true);
      if (status === last) return;
      last = status;
      void this.post(url, this.query(job, true), 1000);
      if (phase !== 'queued' && phase !== 'running') {
        clearInterval(timer);
        this.watchers.delete(timer);
      }
    }, 10);
    this.watchers.add(timer);
  }

  private async post(url: string, body: Record<string, unknown>, timeoutMs = CHALLENGE_TIMEOUT_MS): Promise<SentCallback> {
    const sent: SentCallback = { url, body, status: 0 };
    this.callbackLog.push(sent);
    try {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
      sent.status = res.status;
      const text = await res.text();
      try {
        sent.reply = JSON.parse(text);
      } catch {
        sent.reply = text;
      }
    } catch {
      sent.status = 0;
    }
    return sent;
  }

  /** An HTTP 200 whose `base_resp` carries the error, as MiniMax answers. */
  private base(ctx: RouteContext, code: number, message: string): true {
    this.json(ctx.res, 200, { base_resp: { status_code: code, status_msg: message } });
    return true;
  }

  protected errorAnswer(kind: ErrorKind, fault?: FaultSpec): ErrorAnswer {
    const e = (status: number, code: number, message: string, headers?: Record<string, string>): ErrorAnswer => ({
      status: fault?.status ?? status,
      body: { base_resp: { status_code: fault?.code !== undefined ? Number(fault.code) : code, status_msg: fault?.message ?? message } },
      headers,
    });
    switch (kind) {
      case 'unauthorized':
        return e(200, 1004, "login fail: Please carry the API secret key in the 'Authorization' field of the request header");
      case 'policy':
        return e(200, 1026, 'input new_sensitive');
      case 'invalid':
        return e(200, 2013, 'invalid params, duration');
      case 'rate_limited':
        return e(200, 1002, 'rate limit exceeded(RPM)', this.retryHeaders(fault));
      case 'server_error':
        return e(200, 1024, 'internal error');
      case 'unavailable':
        return e(503, 1033, 'system error', this.retryHeaders(fault));
      case 'not_found':
        return { status: 404, body: '404 page not found', contentType: 'text/plain' };
    }
  }
}

/** Query spelling (`Queueing`, `Success`...) or the callbacks' lowercase one. */
function statusOf(phase: JobPhase, job: FakeJob, lowercase: boolean): string {
  const early = Date.now() - job.createdAt < Math.min(50, (job.startAt - job.createdAt) / 2);
  const name =
    phase === 'queued' ? (early ? 'Preparing' : 'Queueing') : phase === 'running' ? 'Processing' : phase === 'succeeded' ? 'Success' : 'Fail';
  if (!lowercase) return name;
  return name === 'Fail' ? 'failed' : name.toLowerCase();
}

/** An MP3-looking file: an ID3v2 header, then frames of noise behind MPEG sync words. */
function fakeMp3(seconds: number, seed: string): Buffer {
  const header = Buffer.from([0x49, 0x44, 0x33, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]);
  const frames: Buffer[] = [header];
  const count = Math.max(1, Math.round(seconds * 38));
  for (let i = 0; i < count; i++) {
    const frame = Buffer.alloc(418);
    frame[0] = 0xff;
    frame[1] = 0xfb;
    frame[2] = 0x90;
    for (let j = 4; j < frame.length; j++) frame[j] = (j * 31 + i * 7 + seed.length) & 0xff;
    frames.push(frame);
  }
  return Buffer.concat(frames);
}

/** Starts a fake MiniMax server. */
export async function startMiniMaxFake(opts: MiniMaxFakeOptions = {}): Promise<MiniMaxFake> {
  return new MiniMaxFake(opts).start();
}

/** A random id, for tests that need one MiniMax never issued. */
export const unknownMiniMaxTaskId = (): string => randomUUID().replace(/\D/g, '').slice(0, 15).padEnd(15, '7');
