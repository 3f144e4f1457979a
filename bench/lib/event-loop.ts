/**
 * The API's event-loop delay over one load, read from its /metrics (Prometheus text) before and after:
 * a histogram of event-loop delay if the API exports one (bucket counts differenced over the window),
 * else percentile gauges (prom-client's default `nodejs_eventloop_lag_p50/p99/max_seconds`, which it
 * resets at each scrape, so the scrape after a load covers just that load). Null when neither is there.
 */

export interface EventLoopDelay {
  /** The metric the figures come from. */
  source: string;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LOOP_DELAY = /event_?loop.*(delay|lag)/i;

export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const pair of (m[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[4]) });
  }
  return out;
}

const ms = (seconds: number | undefined) => (seconds === undefined || !Number.isFinite(seconds) ? null : Math.round(seconds * 1e6) / 1e3);

const scaled = (value: number | undefined, unit: number) => (value === undefined ? undefined : value * unit);

/** The delay figures between two scrapes of the same process (`before` may be empty). */
export function eventLoopDelayBetween(beforeText: string, afterText: string): EventLoopDelay | null {
  const after = parsePrometheus(afterText);
  const before = parsePrometheus(beforeText);
  const buckets = after.filter((s) => s.name.endsWith('_bucket') && LOOP_DELAY.test(s.name) && s.labels.le !== undefined);
  if (buckets.length > 0) {
    const name = buckets[0]!.name;
    const prior = new Map(before.filter((s) => s.name === name).map((s) => [s.labels.le, s.value]));
    const cumulative = buckets
      .filter((s) => s.name === name)
      .map((s) => ({ le: s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), count: s.value - (prior.get(s.labels.le) ?? 0) }))
      .sort((a, b) => a.le - b.le);
    const total = cumulative.at(-1)?.count ?? 0;
    if (total > 0) {
      // Buckets in seconds unless the metric says milliseconds.
      const unit = /_(ms|milliseconds)(_|$)/.test(name) ? 1e-3 : 1;
      const quantile = (q: number) => scaled(cumulative.find((b) => b.count >= q * total)?.le, unit);
      const highest = scaled(cumulative.find((b) => b.count >= total)?.le, unit);
      const base = name.replace(/_bucket$/, '');
      return { source: `${base} (histogram)`, p50Ms: ms(quantile(0.5)), p99Ms: ms(quantile(0.99)), maxMs: ms(highest) };
    }
  }
  const gauges = after.filter((s) => LOOP_DELAY.test(s.name) && /_(p50|p99|max)(_seconds)?$/.test(s.name));
  if (gauges.length === 0) return null;
  // A metric named for delay (an API's own) before prom-client's "lag".
  const families = [...new Set(gauges.map((s) => s.name.replace(/_(p50|p99|max)(_seconds)?$/, '')))].sort((a, b) => Number(/delay/i.test(b)) - Number(/delay/i.test(a)));
  const family = families[0]!;
  const read = (which: string) => ms(gauges.find((s) => s.name.replace(/_seconds$/, '') === `${family}_${which}`)?.value);
  return { source: family, p50Ms: read('p50'), p99Ms: read('p99'), maxMs: read('max') };
}
