/** Latency summaries in milliseconds, from raw samples (sub-millisecond precision). */
export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles of `samples` (ms), rounded to 0.01 ms. */
export function summarize(samples: number[]): LatencySummary {
  if (samples.length === 0) return { count: 0, mean: NaN, p50: NaN, p90: NaN, p99: NaN, max: NaN };
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: sorted.length,
    mean: round(sum / sorted.length),
    p50: round(at(0.5)),
    p90: round(at(0.9)),
    p99: round(at(0.99)),
    max: round(sorted[sorted.length - 1]!),
  };
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/**
 * gateway - baseline, per percentile; NaN where either side has no figure (a load with no answer has
 * none, and its JSON says null, which arithmetic would take for 0).
 */
export function added(gateway: LatencySummary, baseline: LatencySummary): { p50: number; p90: number; p99: number } {
  const minus = (a: number | null, b: number | null) => (typeof a === 'number' && typeof b === 'number' && Number.isFinite(a) && Number.isFinite(b) ? round(a - b) : NaN);
  return { p50: minus(gateway.p50, baseline.p50), p90: minus(gateway.p90, baseline.p90), p99: minus(gateway.p99, baseline.p99) };
}

/**
 * The fixed rate to measure latency at: the target's, or 80% of the measured maximum when that is lower.
 * Offering more than a server carries only measures its queue (and leaves a backlog that would load the
 * next scenario); the report then says the target rate was out of reach.
 */
export function pacedRate(targetRate: number, measuredMax: number): number {
  return measuredMax >= targetRate ? targetRate : Math.max(1, Math.floor(measuredMax * 0.8));
}

/** value <= limit, false for a figure that is missing (no sample answered: null or NaN). */
export function atMost(value: number | null | undefined, limit: number): boolean {
  return typeof value === 'number' && !Number.isNaN(value) && value <= limit;
}

/** value >= limit, false for a missing figure. */
export function atLeast(value: number | null | undefined, limit: number): boolean {
  return typeof value === 'number' && !Number.isNaN(value) && value >= limit;
}
