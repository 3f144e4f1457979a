/**
 * Priced fields belong to the gateway (issue 11): for every adapter, each priced key in its own spelling
 * is refused in `options` and as an unknown top-level field, and whatever gets through reaches the
 * upstream body exactly as priced. Prices are literal numbers from the tables below, never the code's.
 */
import fc from 'fast-check';
import { quoteMedia, type QuotedModel } from '../../src/billing/media-quote';
import { createDefaultProviders } from '../../src/providers';
import { ARK_PRICED_KEYS, taskBody } from '../../src/providers/ark/mapping';
import { GeminiSettings } from '../../src/providers/gemini';
import { videoBody as veoBody } from '../../src/providers/gemini/mapping';
import { taskBody as klingBody } from '../../src/providers/kling/mapping';
import { ProviderError } from '../../src/providers/types';
import { modelInput } from '../../src/providers/fal/mapping';
import { decodeJobId } from '../../src/providers/mock/mock-job';
import { imageBody, videoBody } from '../../src/providers/openai/mapping';
import { createTarget } from '../../src/providers/replicate/mapping';
import { createBody as runwayBody } from '../../src/providers/runway/mapping';
import { musicBody as elevenLabsBody } from '../../src/providers/elevenlabs/mapping';
import { generationBody as lumaBody, parseLumaDuration } from '../../src/providers/luma/mapping';
import { audioForm } from '../../src/providers/stability/mapping';
import type { MediaRequest } from '../../src/providers/types';
import { CreateImageBody, CreateVideoBody, KNOWN_FIELDS } from '../../src/modules/tasks/tasks.schemas';
import { pricedFieldProblems, toTaskRequest } from '../../src/modules/tasks/tasks.service';
import type { MediaKind, MediaTaskRequest } from '../../workflows/types';

const providers = createDefaultProviders();

/** 3 credits a second, 5 s by default; 2 credits an image. */
const VIDEO_MODEL: QuotedModel = { pricing: { per_second: 3 }, defaultDuration: 5 };
const IMAGE_MODEL: QuotedModel = { pricing: { per_image: 2 } };

/** What each upstream body says it will make, read in the protocol's own spelling. */
interface Sent {
  seconds?: number;
  images?: number;
  /** Any other unit field that would change the price (frames, seconds_total...): must never appear. */
  stray: string[];
}

interface AdapterCase {
  id: string;
  kind: MediaKind;
  send(request: MediaRequest): Promise<Sent>;
}

const strayOf = (body: Record<string, unknown>, keys: string[]) => keys.filter((k) => body[k] !== undefined);

const ADAPTERS: AdapterCase[] = [
  {
    id: 'openai', kind: 'image',
    send: async (r) => { const b = imageBody(r); return { images: b.n as number, stray: [] }; },
  },
  {
    id: 'openai', kind: 'video',
    send: async (r) => { const b = videoBody(r); return { seconds: Number(b.seconds), stray: strayOf(b, ['n', 'duration']) }; },
  },
  {
    id: 'ark', kind: 'video',
    send: async (r) => { const b = taskBody(r); return { seconds: b.duration as number, stray: strayOf(b, ['frames', 'draft', 'service_tier']) }; },
  },
  {
    id: 'replicate', kind: 'image',
    send: async (r) => { const i = createTarget(r, undefined).body.input as Record<string, unknown>; return { images: i.num_outputs as number, stray: strayOf(i, ['num_frames', 'seconds']) }; },
  },
  {
    id: 'replicate', kind: 'video',
    send: async (r) => { const i = createTarget(r, undefined).body.input as Record<string, unknown>; return { seconds: i.duration as number, stray: strayOf(i, ['num_frames', 'seconds', 'num_outputs']) }; },
  },
  {
    id: 'fal', kind: 'image',
    send: async (r) => { const i = modelInput(r, undefined); return { images: i.num_images as number, stray: strayOf(i, ['num_frames', 'seconds_total']) }; },
  },
  {
    id: 'fal', kind: 'video',
    send: async (r) => { const i = modelInput(r, undefined); return { seconds: i.duration as number, stray: strayOf(i, ['num_frames', 'seconds_total', 'num_images']) }; },
  },
  {
    id: 'gemini', kind: 'video',
    send: async (r) => { const p = veoBody(r, GeminiSettings.parse({})).parameters as Record<string, unknown>; return { seconds: p.durationSeconds as number, stray: strayOf(p, ['numberOfVideos', 'generateAudio']).concat(p.sampleCount === 1 ? [] : ['sampleCount']) }; },
  },
  {
    id: 'kling', kind: 'video',
    send: async (r) => klingRefusedOr(r, (b) => ({ seconds: Number(b.duration), stray: strayOf(b, ['n', 'sound', 'model']) })),
  },
  {
    id: 'kling', kind: 'image',
    send: async (r) => klingRefusedOr(r, (b) => ({ images: b.n as number, stray: strayOf(b, ['duration', 'mode', 'sound', 'model']) })),
  },
  ...(['image', 'video'] as const).map((kind): AdapterCase => ({
    id: 'mock', kind,
    send: async (r) => {
      const job = decodeJobId((await providers.get('mock').submit({ channelId: 'ch', baseUrl: 'mock://', apiKey: 'k', settings: {} }, r, { taskId: 'task_x', attempt: 1 })).jobId);
      return kind === 'image' ? { images: job.count, stray: [] } : { seconds: job.seconds ?? undefined, stray: [] };
    },
  })),
  {
    id: 'runway', kind: 'image',
    send: async (r) => { const b = runwayBody(r).body; return { images: (b.outputCount as number | undefined) ?? 1, stray: strayOf(b, ['duration', 'audio']) }; },
  },
  {
    id: 'runway', kind: 'video',
    send: async (r) => { const b = runwayBody(r).body; return { seconds: b.duration as number, stray: strayOf(b, ['outputCount', 'audio']) }; },
  },
  {
    id: 'elevenlabs', kind: 'music',
    send: async (r) => { const b = elevenLabsBody(r); return { seconds: (b.music_length_ms as number) / 1000, stray: strayOf(b, ['composition_plan']) }; },
  },
  {
    id: 'luma', kind: 'video',
    send: async (r) => { const b = lumaBody(r, undefined).body; return { seconds: parseLumaDuration(b.duration as string), stray: [] }; },
  },
  {
    id: 'stability', kind: 'music',
    send: async (r) => { const f = audioForm(r, 'mp3'); return { seconds: Number(f.duration), stray: [] }; },
  },
];

/**
 * Kling's body, read by `read`. A priced value Kling can't honour (a quality other than std/pro, an image
 * resolution other than 1k/2k) is refused before anything is sent: then nothing beyond the price goes out.
 */
function klingRefusedOr(r: MediaRequest, read: (body: Record<string, unknown>) => Sent): Sent {
  try {
    return read(klingBody(r, undefined));
  } catch (err) {
    if (!(err instanceof ProviderError) || err.code !== 'invalid_request') throw err;
    return r.kind === 'image' ? { images: r.n ?? 1, stray: [] } : { seconds: r.duration, stray: [] };
  }
}

/** A value that would buy more than was paid for, for each priced key. */
function hostileValue(key: string): unknown {
  if (key === 'model') return 'seedance-1-0-pro-250528';
  if (['n', 'num_images', 'num_outputs', 'sampleCount'].includes(key)) return 4;
  if (['duration', 'seconds_total'].includes(key)) return 12;
  if (key === 'seconds') return '12';
  if (['frames', 'num_frames'].includes(key)) return 289;
  if (key === 'resolution') return '1080p';
  if (['size', 'image_size'].includes(key)) return '1792x1024';
  if (key === 'quality') return 'high';
  if (key === 'service_tier') return 'default';
  return true;
}

function parse(kind: MediaKind, body: Record<string, unknown>) {
  const schema = kind === 'image' ? CreateImageBody : CreateVideoBody;
  return schema.parse(body);
}

function quoted(kind: MediaKind, request: MediaTaskRequest) {
  const quote = quoteMedia(kind === 'image' ? IMAGE_MODEL : VIDEO_MODEL, kind, request);
  if (!quote.ok) throw new Error(`unexpected quote problems ${JSON.stringify(quote.problems)}`);
  return quote;
}

describe.each(ADAPTERS.map((a) => [`${a.id} ${a.kind}`, a] as const))('%s: hostile bodies', (_name, adapter) => {
  const keys = providers.get(adapter.id).pricedKeys;
  const base = adapter.kind === 'image' ? { model: 'm', prompt: 'a fox', n: 1 } : { model: 'm', prompt: 'a fox', duration: 5 };

  it.each([...keys])('refuses %s in options, naming it', (key) => {
    const problems = pricedFieldProblems(parse(adapter.kind, { ...base, options: { [key]: hostileValue(key) } }));
    expect(problems.map((p) => p.path)).toContain(`options.${key}`);
  });

  it.each([...keys])('%s as a top-level field: refused, or it is the field that is priced', async (key) => {
    const body = parse(adapter.kind, { ...base, [key]: hostileValue(key) });
    const problems = pricedFieldProblems(body);
    if (!KNOWN_FIELDS.has(key)) {
      expect(problems.map((p) => p.path)).toContain(key);
      return;
    }
    // One of our own fields: priced as given, and that is what goes upstream.
    const quote = quoteMedia(adapter.kind === 'image' ? IMAGE_MODEL : VIDEO_MODEL, adapter.kind, toTaskRequest(body));
    if (!quote.ok) return; // refused by the model's rules (e.g. n on a video): nothing is sent
    const sent = await adapter.send({ kind: adapter.kind, ...quote.request, model: 'owner/upstream' });
    expect(sent.stray).toEqual([]);
    if (adapter.kind === 'image') expect(quote.price).toBe(2 * sent.images!);
    else expect(quote.price).toBe(3 * sent.seconds!);
  });

  it('a task admitted before the rule, with every priced key in its options, still sends exactly the priced units', async () => {
    const options = Object.fromEntries(keys.map((k) => [k, hostileValue(k)]));
    const request = { ...quoted(adapter.kind, toTaskRequest(parse(adapter.kind, base))).request, options };
    const sent = await adapter.send({ kind: adapter.kind, ...request, model: 'owner/upstream' });
    expect(sent.stray).toEqual([]);
    if (adapter.kind === 'image') expect(sent.images).toBe(1);
    else expect(sent.seconds).toBe(5);
  });

  it('without a count or duration the upstream still receives the priced one (no provider default)', async () => {
    const body = parse(adapter.kind, { model: 'm', prompt: 'a fox' });
    const quote = quoted(adapter.kind, toTaskRequest(body));
    const sent = await adapter.send({ kind: adapter.kind, ...quote.request, model: 'owner/upstream' });
    if (adapter.kind === 'image') {
      expect(quote.price).toBe(2);
      expect(sent.images).toBe(1);
    } else {
      expect(quote.price).toBe(15);
      expect(sent.seconds).toBe(5);
    }
  });
});

describe('every adapter declares its priced keys', () => {
  it.each(providers.ids())('%s names the model-and-unit fields of its protocol', (id) => {
    const keys = providers.get(id).pricedKeys;
    expect(keys.length).toBeGreaterThan(0);
    expect(typeof providers.get(id).deliveredFrom).toBe('string');
  });

  it('ark names duration and frames (Seedance takes either), and the model', () => {
    expect(ARK_PRICED_KEYS).toEqual(expect.arrayContaining(['model', 'duration', 'frames', 'resolution']));
  });
});

describe('property: units sent upstream never exceed units charged', () => {
  const pricedKeys = [...new Set(ADAPTERS.flatMap((a) => providers.get(a.id).pricedKeys))];
  const optionKey = fc.oneof(fc.constantFrom(...pricedKeys), fc.constantFrom('style', 'steps', 'guidance', 'watermark', 'negative_prompt'));
  const value = fc.oneof(fc.integer({ min: -5, max: 700 }), fc.double({ noNaN: true }), fc.string({ maxLength: 6 }), fc.boolean());
  const body = fc.record(
    {
      duration: fc.oneof(fc.integer({ min: -2, max: 700 }), fc.double({ min: 0, max: 20, noNaN: true })),
      seconds: fc.oneof(fc.constantFrom('0', '5', '12', '999', '5.5', '-1', '05'), fc.integer({ min: 0, max: 700 })),
      n: fc.integer({ min: -1, max: 12 }),
      options: fc.dictionary(optionKey, value, { maxKeys: 4 }),
      extra: fc.tuple(optionKey, value),
    },
    { requiredKeys: [] },
  );

  it.each(ADAPTERS.map((a) => [`${a.id} ${a.kind}`, a] as const))('%s', async (_name, adapter) => {
    await fc.assert(
      fc.asyncProperty(body, async (generated) => {
        const { extra, ...fields } = generated;
        const raw: Record<string, unknown> = { model: 'm', prompt: 'a fox', ...fields, ...(extra ? { [extra[0]]: extra[1] } : {}) };
        const parsed = (adapter.kind === 'image' ? CreateImageBody : CreateVideoBody).safeParse(raw);
        if (!parsed.success || pricedFieldProblems(parsed.data).length > 0) return; // refused: nothing reserved or sent
        const quote = quoteMedia(adapter.kind === 'image' ? IMAGE_MODEL : VIDEO_MODEL, adapter.kind, toTaskRequest(parsed.data));
        if (!quote.ok) return;
        const sent = await adapter.send({ kind: adapter.kind, ...quote.request, model: 'owner/upstream' });
        expect(sent.stray).toEqual([]);
        if (adapter.kind === 'image') {
          expect(sent.images).toBeDefined();
          expect(2 * sent.images!).toBeLessThanOrEqual(quote.price);
        } else {
          expect(sent.seconds).toBeDefined();
          expect(3 * sent.seconds!).toBeLessThanOrEqual(quote.price);
        }
      }),
      { numRuns: 300 },
    );
  });
});
