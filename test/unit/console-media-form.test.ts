import fc from 'fast-check';
import { bodyOf, defaultsOf, parametersOf, priceOf, type PublicModel } from '../../console/src/media-form';
import { priceMedia, requestedUnits } from '../../src/billing/pricing';

const credits = fc.option(fc.integer({ min: 0, max: 1000 }), { nil: undefined });
const pricing = fc.record({ per_request: credits, per_image: credits, per_second: credits }, { requiredKeys: [] });

describe('console playground form', () => {
  it('shows the price the gateway charges for the values it sends', () => {
    fc.assert(fc.property(pricing, fc.constantFrom('image', 'video', 'music'), fc.integer({ min: 1, max: 10 }), fc.integer({ min: 1, max: 600 }), (p, kind, n, duration) => {
      const model: PublicModel = { id: 'm', category: kind, pricing: p, metadata: {} };
      const values = { ...defaultsOf(model), n, duration };
      const body = bodyOf(model, 'a fox', values) as { n?: number; duration?: number };
      expect(priceOf(model, values)).toBe(priceMedia(p, requestedUnits(kind, body, null)));
    }));
  });

  it('builds its fields from the model: counts, listed durations, tiers; optional ones are not sent', () => {
    const video: PublicModel = {
      id: 'v', category: 'video', pricing: { per_second: 5 }, default_duration: 8, durations: [4, 8],
      price_tiers: { by: 'resolution', default: '720p', prices: { '720p': { per_second: 5 }, '1080p': { per_second: 9, per_request: 2 } } }, metadata: {},
    };
    expect(parametersOf(video)).toEqual({
      duration: { type: 'integer', enum: [4, 8], default: 8 },
      resolution: { type: 'string', enum: ['720p', '1080p'], default: '720p' },
      aspect_ratio: { type: 'string', enum: ['16:9', '9:16', '1:1'], optional: true },
    });
    const values = { ...defaultsOf(video), aspect_ratio: '' };
    expect(bodyOf(video, 'waves', values)).toEqual({ model: 'v', prompt: 'waves', duration: 8, resolution: '720p' });
    expect(priceOf(video, values)).toBe(40);
    expect(priceOf(video, { ...values, resolution: '1080p', duration: 4 })).toBe(2 + 36);

    const image: PublicModel = { id: 'i', category: 'image', pricing: { per_image: 3 }, max_outputs: 4, metadata: {} };
    expect(parametersOf(image)).toEqual({ n: { type: 'integer', minimum: 1, maximum: 4, default: 1 } });
    expect(bodyOf(image, 'x', { n: '3' })).toEqual({ model: 'i', prompt: 'x', n: 3 });
    expect(priceOf(image, { n: '3' })).toBe(9);
  });
});
