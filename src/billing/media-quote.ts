/**
 * The quote of a media task: the units it is priced for, fixed in the request itself, so that what the
 * provider receives is exactly what was priced (issue 11). Pure: no I/O, unit-testable.
 */
import type { MediaKind, MediaTaskRequest } from '../../workflows/types';
import type { PriceTiers, Pricing } from '../db/entities';
import { priceMedia, requestedUnits } from './pricing';

/** What a quote needs of a model. */
export interface QuotedModel {
  pricing: Pricing;
  defaultDuration?: number | null;
  durations?: number[] | null;
  maxOutputs?: number | null;
  priceTiers?: PriceTiers | null;
}

/** One reason a request can't be quoted, with the body path it is about. */
export interface QuoteProblem {
  path: string;
  message: string;
}

export type Quote = { ok: true; request: MediaTaskRequest; price: number } | { ok: false; problems: QuoteProblem[] };

/** The other size-like dimension, which must not bypass a tier (a 1080p `size` on a tier by resolution). */
const RIVAL_DIMENSION: Partial<Record<PriceTiers['by'], 'size' | 'resolution'>> = { resolution: 'size', size: 'resolution' };

/** The pricing that applies to a request: the model's own, with its tier's prices over it. */
export function pricingFor(model: QuotedModel, request: Partial<Record<PriceTiers['by'], unknown>>): Pricing {
  const tiers = model.priceTiers;
  if (!tiers) return model.pricing;
  const named = request[tiers.by];
  const value = typeof named === 'string' ? named : tiers.default;
  return { ...model.pricing, ...(tiers.prices[value] ?? tiers.prices[tiers.default]) };
}

/**
 * Fixes every priced unit in the request (the tier's value, the duration, the output count) and prices it.
 * A per-second model without a duration uses its `default_duration`; durations and counts the model does
 * not accept are problems, as are more than one video or track per task.
 */
export function quoteMedia(model: QuotedModel, kind: MediaKind, given: MediaTaskRequest): Quote {
  const request: MediaTaskRequest = { ...given };
  const problems: QuoteProblem[] = [];
  const tiers = model.priceTiers;
  if (tiers) {
    const value = request[tiers.by] ?? tiers.default;
    if (tiers.prices[value] === undefined) {
      problems.push({ path: tiers.by, message: `must be one of ${Object.keys(tiers.prices).join(', ')} for this model` });
    }
    request[tiers.by] = value;
    const rival = RIVAL_DIMENSION[tiers.by];
    if (rival && request[rival] !== undefined) {
      problems.push({ path: rival, message: `is not accepted by this model, which is priced by ${tiers.by}` });
    }
  }
  if (kind === 'image') {
    request.n ??= 1;
    if (model.maxOutputs && request.n > model.maxOutputs) {
      problems.push({ path: 'n', message: `must be at most ${model.maxOutputs} for this model` });
    }
  } else {
    if (request.n !== undefined && request.n !== 1) problems.push({ path: 'n', message: `must be 1: a ${kind} task makes one output` });
    delete request.n;
    request.duration ??= model.defaultDuration ?? undefined;
    const perSecond = (pricingFor(model, request).per_second ?? 0) > 0;
    if (request.duration === undefined && perSecond) {
      problems.push({ path: 'duration', message: 'is required: this model is priced per second and has no default duration' });
    }
    if (request.duration !== undefined && model.durations && !model.durations.includes(request.duration)) {
      problems.push({ path: 'duration', message: `must be one of ${model.durations.join(', ')} seconds for this model` });
    }
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, request, price: priceMedia(pricingFor(model, request), requestedUnits(kind, request, null)) };
}
