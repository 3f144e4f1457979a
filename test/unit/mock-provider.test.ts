import type { Readable } from 'node:stream';
import { inflateSync } from 'node:zlib';
import { readMp4DurationSeconds } from '../../src/media/mp4';
import { readWavDurationSeconds } from '../../src/media/wav';
import { createMockProvider } from '../../src/providers/mock';
import {
  ProviderError,
  type ChannelAccess,
  type JobRef,
  type MediaKind,
  type MediaProvider,
  type MediaRequest,
  type ProviderJob,
} from '../../src/providers/types';

const T0 = Date.UTC(2026, 0, 1);

function setup(settings: Record<string, unknown> = {}) {
  let clock = T0;
  const provider = createMockProvider({ now: () => clock });
  const channel: ChannelAccess = { channelId: 'ch_mock', baseUrl: 'mock://', apiKey: 'unused', settings };
  return {
    provider,
    channel,
    at: (ms: number): void => {
      clock = T0 + ms;
    },
  };
}

function request(kind: MediaKind, extra: Partial<MediaRequest> = {}): MediaRequest {
  return { kind, model: `mock-${kind}`, prompt: 'a red fox', references: {}, options: {}, ...extra };
}

function ref(job: ProviderJob, req: MediaRequest): JobRef {
  return { jobId: job.jobId, handles: job.handles, request: req };
}

async function readAll(body: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of body) parts.push(Buffer.from(part as Buffer));
  return Buffer.concat(parts);
}

async function caught(p: Promise<unknown>): Promise<ProviderError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ProviderError);
    return e as ProviderError;
  }
  throw new Error('expected a ProviderError');
}

const ctx = { taskId: 'task_1', attempt: 1 };

describe('mock provider', () => {
  it('declares its id and kinds', () => {
    const { provider } = setup();
    expect(provider.id).toBe('mock');
    expect([...provider.kinds]).toEqual(['image', 'video', 'music']);
  });

  describe('status over time', () => {
    it('is queued for the first 10%, then processing with rising progress, then succeeded', async () => {
      const { provider, channel, at } = setup({ durationMs: 1000 });
      const req = request('video');
      const submitted = await provider.submit(channel, req, ctx);
      expect(submitted).toMatchObject({ status: 'queued', progress: 0, outputs: [] });
      expect(submitted.jobId).toMatch(/^mock_[A-Za-z0-9_-]+$/);

      const seen: Array<[number, string, number | null]> = [];
      for (const ms of [0, 50, 99, 100, 101, 550, 999, 1000, 5000]) {
        at(ms);
        const s = await provider.status(channel, ref(submitted, req));
        seen.push([ms, s.status, s.progress]);
      }
      expect(seen).toEqual([
        [0, 'queued', 0],
        [50, 'queued', 0],
        [99, 'queued', 0],
        [100, 'processing', 0],
        [101, 'processing', 0],
        [550, 'processing', 50],
        [999, 'processing', 99],
        [1000, 'succeeded', 100],
        [5000, 'succeeded', 100],
      ]);
    });

    it('never lets progress go backwards and keeps processing below 100', async () => {
      const { provider, channel, at } = setup({ durationMs: 3000 });
      const req = request('image');
      const job = await provider.submit(channel, req, ctx);
      let last = -1;
      for (let ms = 0; ms <= 3100; ms += 37) {
        at(ms);
        const s = await provider.status(channel, ref(job, req));
        expect(s.progress).not.toBeNull();
        expect(s.progress!).toBeGreaterThanOrEqual(last);
        expect(Number.isInteger(s.progress)).toBe(true);
        if (s.status !== 'succeeded') expect(s.progress!).toBeLessThanOrEqual(99);
        last = s.progress!;
      }
      expect(last).toBe(100);
    });

    it('finishes at submit when the duration is 0', async () => {
      const { provider, channel } = setup({ durationMs: 0 });
      const job = await provider.submit(channel, request('image'), ctx);
      expect(job).toMatchObject({ status: 'succeeded', progress: 100, usage: { images: 1 } });
    });

    it('uses per-kind durations, defaulting the others to 3000 ms', async () => {
      const { provider, channel, at } = setup({ durationMs: { video: 10_000 } });
      const video = request('video');
      const image = request('image');
      const v = await provider.submit(channel, video, ctx);
      const i = await provider.submit(channel, image, ctx);
      at(3000);
      expect((await provider.status(channel, ref(i, image))).status).toBe('succeeded');
      expect((await provider.status(channel, ref(v, video))).status).toBe('processing');
      at(10_000);
      expect((await provider.status(channel, ref(v, video))).status).toBe('succeeded');
    });

    it('needs no state: a fresh provider instance (a restarted worker) reads the same job', async () => {
      const first = setup({ durationMs: 2000 });
      const req = request('music');
      const job = await first.provider.submit(first.channel, req, ctx);
      const second = setup({ durationMs: 999_999 }); // settings changed since submit: the job keeps its own
      second.at(1100);
      expect(await second.provider.status(second.channel, ref(job, req))).toMatchObject({
        status: 'processing',
        progress: 50,
      });
      second.at(2000);
      expect((await second.provider.status(second.channel, ref(job, req))).status).toBe('succeeded');
    });

    it('gives different ids to different submissions in the same millisecond', async () => {
      const { provider, channel } = setup();
      const a = await provider.submit(channel, request('image'), { taskId: 'task_a', attempt: 1 });
      const b = await provider.submit(channel, request('image'), { taskId: 'task_b', attempt: 1 });
      const c = await provider.submit(channel, request('image'), { taskId: 'task_a', attempt: 2 });
      expect(new Set([a.jobId, b.jobId, c.jobId]).size).toBe(3);
    });

    it('throws a non-retryable not_found for an id it did not make', async () => {
      const { provider, channel } = setup();
      for (const jobId of ['video_123', 'mock_!!!', 'mock_' + Buffer.from('{"k":"x"}').toString('base64url'), 'mock_']) {
        const err = await caught(provider.status(channel, { jobId, request: request('video') }));
        expect(err).toMatchObject({ code: 'not_found', retryable: false });
      }
    });
  });

  describe('markers', () => {
    it('[mock:fail] fails in flight with a non-retryable job_failed', async () => {
      const { provider, channel, at } = setup({ durationMs: 1000 });
      const req = request('video', { prompt: 'a cat [mock:fail]' });
      const job = await provider.submit(channel, req, ctx);
      expect(job.status).toBe('queued');
      at(499);
      expect((await provider.status(channel, ref(job, req))).status).toBe('processing');
      at(500); // failAt defaults to half the duration
      const failed = await provider.status(channel, ref(job, req));
      expect(failed).toMatchObject({ status: 'failed', outputs: [], error: { code: 'job_failed', retryable: false } });
      expect(failed.progress).toBe(44);
      at(5000);
      expect((await provider.status(channel, ref(job, req))).status).toBe('failed');
    });

    it('[mock:fail=infra] fails in flight with a retryable upstream_unavailable', async () => {
      const { provider, channel, at } = setup({ durationMs: 1000, failAt: 1 });
      const req = request('music', { prompt: '[mock:fail=infra] jazz' });
      const job = await provider.submit(channel, req, ctx);
      at(999);
      expect((await provider.status(channel, ref(job, req))).status).toBe('processing');
      at(1000);
      expect(await provider.status(channel, ref(job, req))).toMatchObject({
        status: 'failed',
        error: { code: 'upstream_unavailable', retryable: true },
      });
    });

    it('[mock:fail=content_policy] throws at submit, never retryable', async () => {
      const { provider, channel } = setup();
      const err = await caught(provider.submit(channel, request('image', { prompt: 'x [mock:fail=content_policy]' }), ctx));
      expect(err).toMatchObject({ code: 'content_policy_violation', retryable: false, httpStatus: 400 });
    });

    it('[mock:submit=429] and [mock:submit=500] throw retryable errors at submit', async () => {
      const { provider, channel } = setup();
      const limited = await caught(provider.submit(channel, request('video', { prompt: '[mock:submit=429]' }), ctx));
      expect(limited).toMatchObject({ code: 'rate_limited', retryable: true, httpStatus: 429 });
      expect(limited.retryAfterMs).toBeGreaterThan(0);
      const down = await caught(provider.submit(channel, request('video', { prompt: '[mock:submit=500]' }), ctx));
      expect(down).toMatchObject({ code: 'upstream_unavailable', retryable: true, httpStatus: 500 });
      const auth = await caught(provider.submit(channel, request('video', { prompt: '[mock:submit=401]' }), ctx));
      expect(auth).toMatchObject({ code: 'upstream_auth_failed', retryable: false, httpStatus: 401 });
    });

    it('[mock:duration=1500] overrides the channel duration', async () => {
      const { provider, channel, at } = setup({ durationMs: 60_000 });
      const req = request('image', { prompt: 'dog [mock:duration=1500]' });
      const job = await provider.submit(channel, req, ctx);
      at(1499);
      expect((await provider.status(channel, ref(job, req))).status).toBe('processing');
      at(1500);
      expect((await provider.status(channel, ref(job, req))).status).toBe('succeeded');
    });

    it('markers combine, and override the channel settings', async () => {
      const { provider, channel } = setup({ durationMs: 60_000, submitError: 'upstream_unavailable' });
      const err = await caught(provider.submit(channel, request('video', { prompt: '[mock:submit=429]' }), ctx));
      expect(err.code).toBe('rate_limited');

      const calm = setup({ durationMs: 60_000, failRate: 1 });
      const req = request('video', { prompt: '[mock:duration=100] [mock:fail]' });
      const job = await calm.provider.submit(calm.channel, req, ctx);
      calm.at(50);
      expect((await calm.provider.status(calm.channel, ref(job, req))).error?.code).toBe('job_failed');
    });

    it('refuses unknown markers instead of ignoring a typo', async () => {
      const { provider, channel } = setup();
      for (const prompt of ['[mock:fial]', '[mock:fail=sometimes]', '[mock:submit=200]', '[mock:duration=soon]']) {
        const err = await caught(provider.submit(channel, request('image', { prompt }), ctx));
        expect(err).toMatchObject({ code: 'invalid_request', retryable: false });
      }
    });
  });

  describe('settings', () => {
    it('throws invalid_channel_settings naming every bad field', async () => {
      const { provider, channel } = setup({ durationMs: -1, failRate: 2, durationMS: 5 });
      const err = await caught(provider.submit(channel, request('image'), ctx));
      expect(err).toMatchObject({ code: 'invalid_channel_settings', retryable: false });
      expect(err.message).toContain('durationMs');
      expect(err.message).toContain('failRate');
      expect(err.message).toContain('durationMS');
    });

    it('submitError throws the configured code, or classifies an HTTP status', async () => {
      const byCode = setup({ submitError: 'upstream_auth_failed' });
      expect(await caught(byCode.provider.submit(byCode.channel, request('image'), ctx))).toMatchObject({
        code: 'upstream_auth_failed',
        retryable: false,
      });
      const byStatus = setup({ submitError: 503 });
      expect(await caught(byStatus.provider.submit(byStatus.channel, request('image'), ctx))).toMatchObject({
        code: 'upstream_unavailable',
        retryable: true,
        httpStatus: 503,
      });
    });

    it('failRate is deterministic per task and attempt, so a resubmission may succeed', async () => {
      const { provider, channel, at } = setup({ durationMs: 1000, failRate: 0.5 });
      const outcome = async (taskId: string, attempt: number): Promise<string> => {
        at(0);
        const req = request('image');
        const job = await provider.submit(channel, req, { taskId, attempt });
        at(1000);
        return (await provider.status(channel, ref(job, req))).status;
      };
      const first: string[] = [];
      for (let i = 0; i < 40; i++) first.push(await outcome(`task_${i}`, 1));
      const again: string[] = [];
      for (let i = 0; i < 40; i++) again.push(await outcome(`task_${i}`, 1));
      expect(again).toEqual(first);
      const failures = first.filter((s) => s === 'failed').length;
      expect(failures).toBeGreaterThan(5);
      expect(failures).toBeLessThan(35);

      // Some task that failed on attempt 1 succeeds on a later attempt.
      const failedTask = first.findIndex((s) => s === 'failed');
      const later: string[] = [];
      for (let attempt = 2; attempt <= 12; attempt++) later.push(await outcome(`task_${failedTask}`, attempt));
      expect(later).toContain('succeeded');

      at(0);
      const job = await provider.submit(channel, request('image'), { taskId: `task_${failedTask}`, attempt: 1 });
      at(1000);
      expect((await provider.status(channel, ref(job, request('image')))).error).toMatchObject({
        code: 'upstream_unavailable',
        retryable: true,
      });
    });

    it('failRate 0 and 1 are never and always', async () => {
      for (const [failRate, expected] of [
        [0, 'succeeded'],
        [1, 'failed'],
      ] as const) {
        const { provider, channel, at } = setup({ durationMs: 10, failRate });
        const req = request('video');
        for (let i = 0; i < 10; i++) {
          at(0);
          const job = await provider.submit(channel, req, { taskId: `t${i}`, attempt: 1 });
          at(10);
          expect((await provider.status(channel, ref(job, req))).status).toBe(expected);
        }
      }
    });
  });

  describe('outputs and usage', () => {
    async function finished(provider: MediaProvider, channel: ChannelAccess, at: (ms: number) => void, req: MediaRequest) {
      at(0);
      const job = await provider.submit(channel, req, ctx);
      at(10_000);
      return provider.status(channel, ref(job, req));
    }

    it('image: n PNGs at mock:// urls, usage in images', async () => {
      const { provider, channel, at } = setup();
      const req = request('image', { n: 3, size: '1024x512' });
      const done = await finished(provider, channel, at, req);
      expect(done.usage).toEqual({ images: 3 });
      expect(done.outputs).toHaveLength(3);
      const bodies: Buffer[] = [];
      for (const [i, output] of done.outputs.entries()) {
        expect(output).toEqual({ url: `mock://${done.jobId}/${i}`, contentType: 'image/png' });
        const opened = await provider.openOutput!(channel, ref(done, req), output);
        expect(opened.contentType).toBe('image/png');
        const png = await readAll(opened.body);
        expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
        // Aspect ratio kept, scaled down to a 256 px long side.
        expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([256, 128]);
        const idatLength = png.readUInt32BE(33);
        expect(inflateSync(png.subarray(41, 41 + idatLength)).length).toBe(128 * (1 + 256 * 3));
        bodies.push(png);
      }
      expect(bodies[0]).not.toEqual(bodies[1]);
      const reopened = await provider.openOutput!(channel, ref(done, req), done.outputs[0]);
      expect(await readAll(reopened.body)).toEqual(bodies[0]);
    });

    it('image: 64x64 by default', async () => {
      const { provider, channel, at } = setup();
      const req = request('image');
      const done = await finished(provider, channel, at, req);
      const png = await readAll((await provider.openOutput!(channel, ref(done, req), done.outputs[0])).body);
      expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([64, 64]);
    });

    it('video: one MP4 of the requested seconds (default 5)', async () => {
      const { provider, channel, at } = setup();
      for (const [duration, seconds] of [
        [undefined, 5],
        [8, 8],
      ] as const) {
        const req = request('video', { duration });
        const done = await finished(provider, channel, at, req);
        expect(done.usage).toEqual({ seconds });
        expect(done.outputs).toEqual([{ url: `mock://${done.jobId}/0`, contentType: 'video/mp4' }]);
        const opened = await provider.openOutput!(channel, ref(done, req), done.outputs[0]);
        expect(opened.contentType).toBe('video/mp4');
        const mp4 = await readAll(opened.body);
        expect(mp4.toString('latin1', 4, 8)).toBe('ftyp');
        expect(readMp4DurationSeconds(mp4)).toBe(seconds);
      }
    });

    it('music: one small WAV, capped at 2 s, while usage reports the requested seconds', async () => {
      const { provider, channel, at } = setup();
      const req = request('music', { duration: 30 });
      const done = await finished(provider, channel, at, req);
      expect(done.usage).toEqual({ seconds: 30 });
      expect(done.outputs).toEqual([{ url: `mock://${done.jobId}/0`, contentType: 'audio/wav' }]);
      const wav = await readAll((await provider.openOutput!(channel, ref(done, req), done.outputs[0])).body);
      expect(wav.toString('latin1', 0, 4)).toBe('RIFF');
      expect(readWavDurationSeconds(wav)).toBe(2);

      const short = request('music', { duration: 1 });
      const one = await finished(provider, channel, at, short);
      expect(one.usage).toEqual({ seconds: 1 });
      const wav1 = await readAll((await provider.openOutput!(channel, ref(one, short), one.outputs[0])).body);
      expect(readWavDurationSeconds(wav1)).toBe(1);
    });

    it('music defaults to 10 s of usage', async () => {
      const { provider, channel, at } = setup();
      expect((await finished(provider, channel, at, request('music'))).usage).toEqual({ seconds: 10 });
    });

    it('refuses an output that is not one of the job', async () => {
      const { provider, channel, at } = setup();
      const req = request('image', { n: 2 });
      const done = await finished(provider, channel, at, req);
      for (const url of [`mock://${done.jobId}/2`, 'https://example.com/x.png', `mock://${done.jobId}x/0`]) {
        const err = await caught(provider.openOutput!(channel, ref(done, req), { url }));
        expect(err).toMatchObject({ code: 'not_found', retryable: false });
      }
    });

    it('refuses request values it cannot honour', async () => {
      const { provider, channel } = setup();
      for (const req of [request('image', { n: 0 }), request('image', { n: 11 }), request('video', { duration: -1 })]) {
        expect(await caught(provider.submit(channel, req, ctx))).toMatchObject({ code: 'invalid_request' });
      }
    });
  });

  describe('cancel', () => {
    it('cancels a queued or running job and reports a finished one', async () => {
      const { provider, channel, at } = setup({ durationMs: 1000 });
      const req = request('video');
      const job = await provider.submit(channel, req, ctx);
      at(0);
      expect(await provider.cancel!(channel, ref(job, req))).toBe('cancelled');
      at(500);
      expect(await provider.cancel!(channel, ref(job, req))).toBe('cancelled');
      at(1000);
      expect(await provider.cancel!(channel, ref(job, req))).toBe('already_finished');

      at(0);
      const failing = request('video', { prompt: '[mock:fail]' });
      const doomed = await provider.submit(channel, failing, ctx);
      at(600);
      expect(await provider.cancel!(channel, ref(doomed, failing))).toBe('already_finished');
    });

    it('throws not_found for an unknown job', async () => {
      const { provider, channel } = setup();
      expect(await caught(provider.cancel!(channel, { jobId: 'nope', request: request('image') }))).toMatchObject({
        code: 'not_found',
      });
    });
  });
});
