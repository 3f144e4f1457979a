import { Histogram, type Registry } from 'prom-client';

/** How often the sampler asks to run (ms): a stall shows as that tick running late. */
const SAMPLE_EVERY_MS = 10;

/**
 * Event-loop delay as a Prometheus histogram: a timer due every SAMPLE_EVERY_MS records how late it ran,
 * so a GC pause, a long synchronous job or a starved core appears as a late tick of about its length.
 * Unlike the default `nodejs_eventloop_lag_p99_seconds` gauges, which perf_hooks resets at every scrape,
 * the buckets accumulate: `rate()` over any window says what share of ticks were late by more than each
 * bound, and replicas add up. Returns a stop function; the timer never keeps the process alive.
 */
export function observeEventLoopDelay(registry: Registry, opts: { name?: string } = {}): () => void {
  const delay = new Histogram({
    name: opts.name ?? 'gateway_event_loop_delay_seconds',
    help: `How late a timer due every ${SAMPLE_EVERY_MS} ms ran: event-loop stalls (GC, synchronous work, a busy core)`,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  let last = process.hrtime.bigint();
  const timer = setInterval(() => {
    const now = process.hrtime.bigint();
    const lateMs = Number(now - last) / 1e6 - SAMPLE_EVERY_MS;
    last = now;
    delay.observe(Math.max(0, lateMs) / 1000);
  }, SAMPLE_EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}
