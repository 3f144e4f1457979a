/**
 * Quotes of media tasks: every price has its units, tiers apply and go upstream, durations and counts are
 * checked against the model. Expected credits are literal numbers from each model's price table.
 */
import { pricingFor, quoteMedia, type QuotedModel } from '../../src/billing/media-quote';
import { CreateModelBody } from '../../src/modules/admin/admin.schemas';
import { CreateVideoBody } from '../../src/modules/tasks/tasks.schemas';
import type { MediaTaskRequest } from '../../workflows/types';

const request = (fields: Partial<MediaTaskRequest> = {}): MediaTaskRequest => ({ prompt: 'a fox', references: {}, options: {}, ...fields });

const SEEDANCE: QuotedModel = {
  pricing: { per_second: 3 },
  defaultDuration: 5,
  durations: [5, 10],
  priceTiers: { by: 'resolution', default: '720p', prices: { '720p': { per_second: 3 }, '1080p': { per_second: 7 } } },
};

describe('quoteMedia', () => {
  it('prices the default duration and writes it into the request', () => {
    const quote = quoteMedia(SEEDANCE, 'video', request());
    expect(quote).toMatchObject({ ok: true, price: 15, request: { duration: 5, resolution: '720p' } });
  });

  it('applies a tier and keeps its value for upstream', () => {
    expect(quoteMedia(SEEDANCE, 'video', request({ duration: 10, resolution: '1080p' }))).toMatchObject({ ok: true, price: 70, request: { resolution: '1080p' } });
  });

  it('refuses a tier the model does not list, and a size that would bypass a tier by resolution', () => {
    expect(quoteMedia(SEEDANCE, 'video', request({ resolution: '4k' }))).toMatchObject({ ok: false, problems: [{ path: 'resolution' }] });
    expect(quoteMedia(SEEDANCE, 'video', request({ size: '1920x1080' }))).toMatchObject({ ok: false, problems: [{ path: 'size' }] });
  });

  it('refuses a duration outside the model list', () => {
    expect(quoteMedia(SEEDANCE, 'video', request({ duration: 7 }))).toMatchObject({ ok: false, problems: [{ path: 'duration' }] });
  });

  it('refuses a per-second price without any duration', () => {
    expect(quoteMedia({ pricing: { per_second: 3 } }, 'video', request())).toMatchObject({ ok: false, problems: [{ path: 'duration' }] });
  });

  it('refuses more than one video per task (n would multiply the outputs, not the price)', () => {
    expect(quoteMedia(SEEDANCE, 'video', request({ n: 2 }))).toMatchObject({ ok: false, problems: [{ path: 'n' }] });
  });

  it('images: the count defaults to 1 and is capped by max_outputs; quality tiers price per image', () => {
    const model: QuotedModel = {
      pricing: { per_image: 1 },
      maxOutputs: 2,
      priceTiers: { by: 'quality', default: 'low', prices: { low: { per_image: 1 }, high: { per_image: 5 } } },
    };
    expect(quoteMedia(model, 'image', request())).toMatchObject({ ok: true, price: 1, request: { n: 1, quality: 'low' } });
    expect(quoteMedia(model, 'image', request({ n: 2, quality: 'high' }))).toMatchObject({ ok: true, price: 10 });
    expect(quoteMedia(model, 'image', request({ n: 3 }))).toMatchObject({ ok: false, problems: [{ path: 'n' }] });
    expect(pricingFor(model, { quality: 'high' })).toEqual({ per_image: 5 });
    expect(pricingFor(model, {})).toEqual({ per_image: 1 });
  });
});

describe('seconds and duration share one rule', () => {
  const body = (fields: Record<string, unknown>) => CreateVideoBody.safeParse({ model: 'm', prompt: 'p', ...fields });
  it.each(['0', '999', '601', '5.5', '-1', '', ' 5'])('refuses seconds %j', (seconds) => {
    expect(body({ seconds }).success).toBe(false);
  });
  it.each([0, -3, 2.5, 601])('refuses duration %j', (duration) => {
    expect(body({ duration }).success).toBe(false);
  });
  it('accepts "12" and 600', () => {
    expect(body({ seconds: '12' }).success).toBe(true);
    expect(body({ duration: 600 }).success).toBe(true);
  });
});

describe('admin: a media model has its units', () => {
  const model = (fields: Record<string, unknown>) => CreateModelBody.safeParse({ id: 'm', category: 'video', pricing: { per_second: 3 }, ...fields });
  const paths = (fields: Record<string, unknown>) => {
    const parsed = model(fields);
    return parsed.success ? [] : parsed.error.issues.map((i) => i.path.join('.'));
  };

  it('per_second without default_duration is refused', () => {
    expect(paths({})).toContain('default_duration');
    expect(paths({ pricing: {}, price_tiers: { by: 'resolution', default: '720p', prices: { '720p': { per_second: 2 } } } })).toContain('default_duration');
    expect(model({ default_duration: 5 }).success).toBe(true);
  });

  it('default_duration must be one of durations; durations do not repeat', () => {
    expect(paths({ default_duration: 5, durations: [4, 8] })).toContain('default_duration');
    expect(paths({ default_duration: 5, durations: [5, 5] })).toContain('durations');
  });

  it('a tier table needs its default among its prices, and prices are whole credits', () => {
    expect(paths({ default_duration: 5, price_tiers: { by: 'resolution', default: '4k', prices: { '720p': { per_second: 2 } } } })).toContain('price_tiers.default');
    expect(paths({ default_duration: 5, price_tiers: { by: 'resolution', default: '720p', prices: { '720p': { per_second: 2.5 } } } })).toContain('price_tiers.prices.720p.per_second');
    expect(paths({ default_duration: 5, price_tiers: { by: 'fps', default: 'a', prices: { a: {} } } })).toContain('price_tiers.by');
  });
});
