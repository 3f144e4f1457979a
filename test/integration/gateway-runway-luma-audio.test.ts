/**
 * The runway, luma, elevenlabs and stability adapters through the HTTP API, real PostgreSQL and Temporal
 * and their fakes: a success stores the output (synchronous audio too, without the bytes in workflow
 * history), a final upstream failure refunds in full, a retryable one moves to the next channel, and
 * priced fields in `options` are refused before anything is reserved or sent. Every credit figure is a
 * literal from the model's price table.
 */
import { startElevenLabsFake, startLumaFake, startRunwayFake, startStabilityFake, type FakeProvider } from '../fakes';
import { accountOf, expectApiError, sql } from '../support/checks';
import { createCustomer, startTestGateway, waitForTask, type TestGateway } from '../support/harness';
import { ledgerByKind, modelOnFakes } from '../support/fake-channels';

const FAST = { queueMs: 30, runMs: 150 };

describe('runway, luma, elevenlabs and stability through the gateway', () => {
  let gw: TestGateway;
  const fakes: FakeProvider[] = [];

  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterEach(async () => {
    await Promise.all(fakes.splice(0).map((fake) => fake.close()));
  });
  afterAll(async () => {
    await gw?.stop();
  });

  /** A model with `fields`, served by one channel per fake (the first has the highest priority). */
  async function modelOn(provider: string, on: FakeProvider[], upstream: string, fields: Record<string, unknown>, settings: Record<string, unknown> = {}): Promise<string> {
    fakes.push(...on);
    return modelOnFakes(gw, provider, on, upstream, fields, settings);
  }

  const ledger = (taskId: string) => ledgerByKind(gw, taskId);

  async function create(path: string, key: string, body: Record<string, unknown>): Promise<string> {
    const created = await gw.request('POST', path, { key, body });
    expect(created.status).toBe(200);
    return created.body.id as string;
  }

  /** The stored output's bytes, from our own link. */
  async function stored(task: { output: { url: string }[] }): Promise<Buffer> {
    const res = await fetch(task.output[0].url);
    expect(res.status).toBe(200);
    return Buffer.from(await res.arrayBuffer());
  }

  /** The workflow history as text, its payloads decoded: an inline output would show here. */
  async function historyText(taskId: string): Promise<string> {
    const history = await gw.gateway.temporal.workflow.getHandle(taskId).fetchHistory();
    return JSON.stringify(history, function (this: Record<string, unknown>, name, value) {
      const raw = this[name];
      if (raw instanceof Uint8Array) return Buffer.from(raw).toString('utf8');
      if (name === 'data' && typeof raw === 'string') return Buffer.from(raw, 'base64').toString('utf8');
      return value;
    });
  }

  /** The start of any of the fakes' MP3 files in base64 (`ID3\x04...` then a frame header). */
  const MP3_BASE64_HEAD = Buffer.from([0x49, 0x44, 0x33, 0x04, 0, 0, 0, 0, 0, 0, 0xff, 0xfb]).toString('base64');

  describe('runway', () => {
    const VIDEO = { category: 'video', pricing: { per_second: 3 }, default_duration: 5 };

    it('image to video succeeds: 15 credits for 5 s, the video stored, the version header sent', async () => {
      const runway = await startRunwayFake({ jobPlan: FAST });
      const model = await modelOn('runway', [runway], 'gen4.5', VIDEO);
      const customer = await createCustomer(gw, { credits: 100 });
      const taskId = await create('/v1/videos', customer.key, { model, prompt: 'a fox', image_url: 'http://8.8.8.8/first.png' });
      const task = await waitForTask(gw, customer.key, taskId);
      expect(task).toMatchObject({ status: 'succeeded', credits: { reserved: 15, charged: 15, refunded: 0 } });
      expect(await ledger(taskId)).toEqual({ hold: 15, capture: 15 });
      expect(await accountOf(gw, customer.accountId)).toEqual(expect.objectContaining({ balance: 85, reserved: 0 }));
      const [sent] = runway.requestsTo('POST', '/v1/image_to_video');
      expect(sent.headers['x-runway-version']).toBe('2024-11-06');
      expect(sent.body).toMatchObject({ model: 'gen4.5', duration: 5, promptImage: 'http://8.8.8.8/first.png' });
      expect((await stored(task)).subarray(4, 8).toString('latin1')).toBe('ftyp');
    });

    it('a moderation failure (SAFETY.INPUT.TEXT) is final: refunded in full, the second channel never asked', async () => {
      const first = await startRunwayFake({ jobPlan: { ...FAST, outcome: { kind: 'fail', code: 'SAFETY.INPUT.TEXT', message: 'flagged' } } });
      const second = await startRunwayFake({ jobPlan: FAST });
      const model = await modelOn('runway', [first, second], 'gen4.5', VIDEO);
      const customer = await createCustomer(gw, { credits: 100 });
      const taskId = await create('/v1/videos', customer.key, { model, prompt: 'a fox' });
      const task = await waitForTask(gw, customer.key, taskId);
      expect(task).toMatchObject({ status: 'failed', credits: { reserved: 15, charged: 0, refunded: 15 } });
      expect(task.error.code).toBe('content_policy_violation');
      expect(await ledger(taskId)).toEqual({ hold: 15, release: 15 });
      expect(await accountOf(gw, customer.accountId)).toEqual(expect.objectContaining({ balance: 100, reserved: 0 }));
      expect(second.requests).toHaveLength(0);
    });

    it('INTERNAL.BAD_OUTPUT is retryable: the next channel makes the video, 15 credits once', async () => {
      const first = await startRunwayFake({ jobPlan: { ...FAST, outcome: { kind: 'fail', code: 'INTERNAL.BAD_OUTPUT.CODE01' } } });
      const second = await startRunwayFake({ jobPlan: FAST });
      const model = await modelOn('runway', [first, second], 'gen4.5', VIDEO);
      const customer = await createCustomer(gw, { credits: 100 });
      const taskId = await create('/v1/videos', customer.key, { model, prompt: 'a fox' });
      const task = await waitForTask(gw, customer.key, taskId);
      expect(task).toMatchObject({ status: 'succeeded', credits: { reserved: 15, charged: 15, refunded: 0 } });
      expect(first.requestsTo('POST', '/v1/text_to_video')).toHaveLength(1);
      expect(second.requestsTo('POST', '/v1/text_to_video')).toHaveLength(1);
      expect(await accountOf(gw, customer.accountId)).toEqual(expect.objectContaining({ balance: 85, reserved: 0 }));
    });

    it('priced fields in options (duration, audio, outputCount) or at the top are refused; nothing reserved or sent', async () => {
      const runway = await startRunwayFake({ jobPlan: FAST });
      const model = await modelOn('runway', [runway], 'veo3.1', VIDEO);
      const customer = await createCustomer(gw, { credits: 100 });
      for (const [body, named] of [
        [{ options: { duration: 8 } }, 'options.duration'],
        [{ options: { audio: true } }, 'options.audio'],
        [{ outputCount: 4 }, 'outputCount'],
      ] as const) {
        const answer = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox', duration: 4, ...body } });
        expectApiError(answer, 400, 'invalid_request');
        expect(answer.body.error.message).toContain(named);
      }
      expect(await accountOf(gw, customer.accountId)).toEqual(expect.objectContaining({ balance: 100, reserved: 0 }));
      expect(runway.requests).toHaveLength(0);
    });
  });

  describe('elevenlabs (synchronous)', () => {
    const MUSIC = { category: 'music', pricing: { per_second: 1 }, default_duration: 10 };

    it('music succeeds in the submit: 10 credits for 10 s, the audio stored, the bytes never in workflow history', async () => {
      const eleven = await startElevenLabsFake({ jobPlan: { queueMs: 0, runMs: 20 } });
      const model = await modelOn('elevenlabs', [eleven], 'music_v1', MUSIC);
      const customer = await createCustomer(gw, { credits: 100 });
      const taskId = await create('/v1/music/generations', customer.key, { model, prompt: 'calm piano' });
      const task = await waitForTask(gw, customer.key, taskId);
      expect(task).toMatchObject({ status: 'succeeded', credits: { reserved: 10, charged: 10, refunded: 0 } });
      expect(await ledger(taskId)).toEqual({ hold: 10, capture: 10 });
      const [sent] = eleven.requestsTo('POST', '/v1/music');
      expect(sent.query).toEqual({ output_format: 'mp3_44100_128' });
      expect(sent.body).toEqual({ prompt: 'calm piano', model_id: 'music_v1', music_length_ms: 10000 });
      const bytes = await stored(task);
      expect(task.output[0].content_type).toBe('audio/mpeg');
      expect(bytes.toString('base64').startsWith(MP3_BASE64_HEAD)).toBe(true);
      const history = await historyText(taskId);
      expect(history).toContain('music_v1');
      expect(history).not.toContain(MP3_BASE64_HEAD);
      expect(history.length).toBeLessThan(bytes.length);
    });

    it('bad_prompt is final: refunded in full, the second channel never asked', async () => {
      const first = await startElevenLabsFake({ jobPlan: { queueMs: 0, runMs: 0, outcome: { kind: 'fail', code: 'bad_prompt' } } });
      const second = await startElevenLabsFake({ jobPlan: { queueMs: 0, runMs: 0 } });
      const model = await modelOn('elevenlabs', [first, second], 'music_v1', MUSIC);
      const customer = await createCustomer(gw, { credits: 100 });
      const taskId = await create('/v1/music/generations', customer.key, { model, prompt: 'in the style of a famous band' });
      const task = await waitForTask(gw, customer.key, taskId);
      expect(task).toMatchObject({ status: 'failed', credits: { reserved: 10, charged: 0, refunded: 10 } });
      expect(task.error.code).toBe('content_policy_violation');
      expect(await ledger(taskId)).toEqual({ hold: 10, release: 10 });
      expect(await accountOf(gw, customer.accountId)).toEqual(expect.objectContaining({ balance: 100, reserved: 0 }));
      expect(second.requests).toHaveLength(0);
    });

    it('429 system_busy moves to the next channel: 10 credits once', async () => {
      const first = await startElevenLabsFake({ jobPlan: { queueMs: 0, runMs: 0 } });
      const second = await startElevenLabsFake({ jobPlan: { queueMs: 0, runMs: 0 } });
      first.failAlways('submit', { kind: 'rate_limited', retryAfter: '0' });
      const model = await modelOn('elevenlabs', [first, second], 'music_v1', MUSIC);
      const customer = await createCustomer(gw, { credits: 100 });
      const taskId = await create('/v1/music/generations', customer.key, { model, prompt: 'calm piano', duration: 12 });
      const task = await waitForTask(gw, customer.key, taskId);
      expect(task).toMatchObject({ status: 'succeeded', credits: { reserved: 12, charged: 12, refunded: 0 } });
      expect(second.requestsTo('POST', '/v1/music')[0].body).toMatchObject({ music_length_ms: 12000 });
      expect(await accountOf(gw, customer.accountId)).toEqual(expect.objectContaining({ balance: 88, reserved: 0 }));
    });

    it('music_length_ms or composition_plan in options (or at the top) are refused; nothing reserved or sent', async () => {
      const eleven = await startElevenLabsFake();
      const model = await modelOn('elevenlabs', [eleven], 'music_v1', MUSIC);
      const customer = await createCustomer(gw, { credits: 100 });
      for (const [body, named] of [
        [{ options: { music_length_ms: 600000 } }, 'options.music_length_ms'],
        [{ options: { composition_plan: { sections: [] } } }, 'options.composition_plan'],
        [{ music_length_ms: 600000 }, 'music_length_ms'],
      ] as const) {
        const answer = await gw.request('POST', '/v1/music/generations', { key: customer.key, body: { model, prompt: 'calm piano', ...body } });
        expectApiError(answer, 400, 'invalid_request');
        expect(answer.body.error.message).toContain(named);
      }
      expect(await accountOf(gw, customer.accountId)).toEqual(expect.objectContaining({ balance: 100, reserved: 0 }));
      expect(eleven.requests).toHaveLength(0);
    });
  });

  describe('luma', () => {
    const VIDEO = { category: 'video', pricing: { per_second: 2 }, default_duration: 5 };
    const VIDEOS = '/dream-machine/v1/generations/video';

    it('a video with a first frame succeeds: 10 credits for 5 s, duration sent as "5s", the frame as keyframe', async () => {
      const luma = await startLumaFake({ jobPlan: FAST });
      const model = await modelOn('luma', [luma], 'ray-2', VIDEO);
      const customer = await createCustomer(gw, { credits: 100 });
      const taskId = await create('/v1/videos', customer.key, { model, prompt: 'a fox', image_url: 'http://8.8.8.8/first.png' });
      const task = await waitForTask(gw, customer.key, taskId);
      expect(task).toMatchObject({ status: 'succeeded', credits: { reserved: 10, charged: 10, refunded: 0 } });
      expect(await ledger(taskId)).toEqual({ hold: 10, capture: 10 });
      expect(luma.requestsTo('POST', VIDEOS)[0].body).toMatchObject({ model: 'ray-2', duration: '5s', keyframes: { frame0: { type: 'image', url: 'http://8.8.8.8/first.png' } } });
      expect((await stored(task)).subarray(4, 8).toString('latin1')).toBe('ftyp');
    });

    it('a moderated generation is final: refunded in full, the second channel never asked', async () => {
      const first = await startLumaFake({ jobPlan: { ...FAST, outcome: { kind: 'fail', message: 'Generation failed content moderation' } } });
      const second = await startLumaFake({ jobPlan: FAST });
      const model = await modelOn('luma', [first, second], 'ray-2', VIDEO);
      const customer = await createCustomer(gw, { credits: 100 });
      const taskId = await create('/v1/videos', customer.key, { model, prompt: 'a fox' });
      const task = await waitForTask(gw, customer.key, taskId);
      expect(task).toMatchObject({ status: 'failed', credits: { reserved: 10, charged: 0, refunded: 10 } });
      expect(task.error.code).toBe('content_policy_violation');
      expect(await ledger(taskId)).toEqual({ hold: 10, release: 10 });
      expect(second.requests).toHaveLength(0);
    });

    it('an internal failure moves to the next channel: 10 credits once', async () => {
      const first = await startLumaFake({ jobPlan: { ...FAST, outcome: { kind: 'fail', message: 'Internal server error' } } });
      const second = await startLumaFake({ jobPlan: FAST });
      const model = await modelOn('luma', [first, second], 'ray-2', VIDEO);
      const customer = await createCustomer(gw, { credits: 100 });
      const taskId = await create('/v1/videos', customer.key, { model, prompt: 'a fox' });
      const task = await waitForTask(gw, customer.key, taskId);
      expect(task).toMatchObject({ status: 'succeeded', credits: { reserved: 10, charged: 10, refunded: 0 } });
      expect(second.requestsTo('POST', VIDEOS)).toHaveLength(1);
      expect(await accountOf(gw, customer.accountId)).toEqual(expect.objectContaining({ balance: 90, reserved: 0 }));
    });

    it('"9s" or 4k in options is refused; nothing reserved or sent', async () => {
      const luma = await startLumaFake({ jobPlan: FAST });
      const model = await modelOn('luma', [luma], 'ray-2', VIDEO);
      const customer = await createCustomer(gw, { credits: 100 });
      for (const [body, named] of [
        [{ options: { duration: '9s' } }, 'options.duration'],
        [{ options: { resolution: '4k' } }, 'options.resolution'],
      ] as const) {
        const answer = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox', ...body } });
        expectApiError(answer, 400, 'invalid_request');
        expect(answer.body.error.message).toContain(named);
      }
      expect(await accountOf(gw, customer.accountId)).toEqual(expect.objectContaining({ balance: 100, reserved: 0 }));
      expect(luma.requests).toHaveLength(0);
    });
  });

  describe('stability (synchronous multipart)', () => {
    const MUSIC = { category: 'music', pricing: { per_request: 7 } };
    const PATH = '/v2beta/audio/stable-audio-2/text-to-audio';

    it('audio succeeds in the submit: 7 credits a generation, the wav stored, the bytes never in workflow history', async () => {
      const stability = await startStabilityFake({ jobPlan: { queueMs: 0, runMs: 20 } });
      const model = await modelOn('stability', [stability], 'stable-audio-2.5', MUSIC, { outputFormat: 'wav' });
      const customer = await createCustomer(gw, { credits: 100 });
      const taskId = await create('/v1/music/generations', customer.key, { model, prompt: 'ambient pads', duration: 20 });
      const task = await waitForTask(gw, customer.key, taskId);
      expect(task).toMatchObject({ status: 'succeeded', credits: { reserved: 7, charged: 7, refunded: 0 } });
      expect(await ledger(taskId)).toEqual({ hold: 7, capture: 7 });
      expect(stability.requestsTo('POST', PATH)[0].body).toMatchObject({ prompt: 'ambient pads', model: 'stable-audio-2.5', duration: '20', output_format: 'wav' });
      const bytes = await stored(task);
      expect(task.output[0].content_type).toBe('audio/wav');
      const history = await historyText(taskId);
      expect(history).toContain('stable-audio-2.5');
      expect(history).not.toContain(bytes.subarray(0, 48).toString('base64'));
      expect(history.length).toBeLessThan(bytes.length);
    });

    it('a moderated prompt (403 content_moderation) is final: refunded, the channel stays enabled', async () => {
      const first = await startStabilityFake({ jobPlan: { queueMs: 0, runMs: 0 } });
      const second = await startStabilityFake({ jobPlan: { queueMs: 0, runMs: 0 } });
      const model = await modelOn('stability', [first, second], 'stable-audio-2.5', MUSIC);
      const customer = await createCustomer(gw, { credits: 100 });
      const taskId = await create('/v1/music/generations', customer.key, { model, prompt: 'something forbidden' });
      const task = await waitForTask(gw, customer.key, taskId);
      expect(task).toMatchObject({ status: 'failed', credits: { reserved: 7, charged: 0, refunded: 7 } });
      expect(task.error.code).toBe('content_policy_violation');
      expect(await ledger(taskId)).toEqual({ hold: 7, release: 7 });
      expect(second.requests).toHaveLength(0);
      const channels = await sql<{ enabled: boolean }>(gw, 'select enabled from channels where base_url = ?', [first.url]);
      expect(channels.map((c) => c.enabled)).toEqual([true]);
    });

    it('a 503 moves to the next channel: 7 credits once', async () => {
      const first = await startStabilityFake({ jobPlan: { queueMs: 0, runMs: 0 } });
      const second = await startStabilityFake({ jobPlan: { queueMs: 0, runMs: 0 } });
      first.failAlways('submit', 'unavailable');
      const model = await modelOn('stability', [first, second], 'stable-audio-2.5', MUSIC);
      const customer = await createCustomer(gw, { credits: 100 });
      const taskId = await create('/v1/music/generations', customer.key, { model, prompt: 'ambient pads' });
      const task = await waitForTask(gw, customer.key, taskId);
      expect(task).toMatchObject({ status: 'succeeded', credits: { reserved: 7, charged: 7, refunded: 0 } });
      expect(second.requestsTo('POST', PATH)).toHaveLength(1);
      expect(await accountOf(gw, customer.accountId)).toEqual(expect.objectContaining({ balance: 93, reserved: 0 }));
    });

    it('model or duration in options is refused; nothing reserved or sent', async () => {
      const stability = await startStabilityFake();
      const model = await modelOn('stability', [stability], 'stable-audio-2', MUSIC);
      const customer = await createCustomer(gw, { credits: 100 });
      for (const [body, named] of [
        [{ options: { model: 'stable-audio-2.5' } }, 'options.model'],
        [{ options: { duration: 190 } }, 'options.duration'],
      ] as const) {
        const answer = await gw.request('POST', '/v1/music/generations', { key: customer.key, body: { model, prompt: 'ambient pads', ...body } });
        expectApiError(answer, 400, 'invalid_request');
        expect(answer.body.error.message).toContain(named);
      }
      expect(await accountOf(gw, customer.accountId)).toEqual(expect.objectContaining({ balance: 100, reserved: 0 }));
      expect(stability.requests).toHaveLength(0);
    });
  });
});
