/**
 * A load generator process: `node --import tsx bench/procs/load.ts '<LoadSpec JSON>'`. Runs the warm-up
 * (discarded), then the measured load, and prints `RESULT <LoadResult JSON>`. It runs apart from every
 * server under test, so its work never shares their event loop.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import type { LoadResult, LoadSpec } from '../lib/load-spec';
import { round, summarize } from '../lib/stats';

interface Tally {
  ok: number;
  failed: Record<string, number>;
  latencies: number[];
  firstByte: number[];
  sampleFailure?: string;
}

const newTally = (): Tally => ({ ok: 0, failed: {}, latencies: [], firstByte: [] });
const fail = (tally: Tally, key: string, why?: string) => {
  tally.failed[key] = (tally.failed[key] ?? 0) + 1;
  if (why && !tally.sampleFailure) tally.sampleFailure = why.slice(0, 500);
};

/** Closed loop with autocannon; latencies taken from its per-response event (float ms). */
function runAutocannon(spec: LoadSpec, seconds: number): Promise<{ tally: Tally; result: autocannon.Result }> {
  const tally = newTally();
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: spec.origin,
        connections: spec.connections ?? 32,
        duration: seconds,
        requests: spec.paths.map((path) => ({ method: spec.method, path, headers: spec.headers, body: spec.body })),
        timeout: 30,
      },
      (error, result) => (error ? reject(error) : resolve({ tally, result })),
    );
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status >= 200 && status < 300) {
        tally.ok++;
        tally.latencies.push(ms);
      } else {
        fail(tally, String(status));
      }
    });
    instance.on('reqError', (error: Error) => fail(tally, 'error', error.message));
  });
}

/** Open loop: request i is due at start + i/rate; its latency counts from then. */
async function runPaced(spec: LoadSpec): Promise<{ tally: Tally; seconds: number }> {
  const rate = spec.rate ?? 100;
  const url = new URL(spec.origin);
  const agent = new http.Agent({ keepAlive: true, maxSockets: spec.maxInflight ?? 256 });
  const tally = newTally();
  const warmupCount = Math.round(rate * spec.warmupS);
  const total = warmupCount + Math.round(rate * spec.durationS);
  const interval = 1000 / rate;
  let open = 0;
  let sent = 0;
  let measuredFrom = 0;
  let lastMeasuredEnd = 0;
  let allSent: () => void;
  const sentAll = new Promise<void>((resolve) => (allSent = resolve));
  let drained: (() => void) | null = null;
  let gaveUp = false;

  const fire = (due: number, index: number) => {
    const counts = index >= warmupCount;
    const measure = () => counts && !gaveUp;
    const path = spec.paths[index % spec.paths.length]!;
    open++;
    const done = () => {
      open--;
      if (open === 0 && drained) drained();
    };
    const req = http.request({ host: url.hostname, port: url.port, path, method: spec.method, headers: spec.headers, agent }, (res) => {
      const headersAt = performance.now();
      const ok = res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300;
      let text = '';
      res.on('data', (chunk: Buffer) => {
        if (!ok && text.length < 500) text += chunk.toString('utf8');
      });
      res.on('end', () => {
        const end = performance.now();
        if (measure()) {
          if (ok) {
            tally.ok++;
            tally.latencies.push(end - due);
            tally.firstByte.push(headersAt - due);
            lastMeasuredEnd = end;
          } else {
            fail(tally, String(res.statusCode), text);
          }
        }
        done();
      });
      res.on('error', (error) => {
        if (measure()) fail(tally, 'error', error.message);
        done();
      });
    });
    req.on('error', (error) => {
      if (measure()) fail(tally, 'error', error.message);
      done();
    });
    req.end(spec.body);
  };

  const start = performance.now() + 20;
  measuredFrom = start + warmupCount * interval;
  const tick = () => {
    const now = performance.now();
    while (sent < total && start + sent * interval <= now) {
      fire(start + sent * interval, sent);
      sent++;
    }
    if (sent < total) setTimeout(tick, Math.max(0, start + sent * interval - performance.now()));
    else allSent();
  };
  setTimeout(tick, 20);
  await sentAll;
  // An overloaded server must not hold the run: what has not answered within the grace is a failure.
  const graceMs = Math.min(60_000, Math.max(5_000, spec.durationS * 1000));
  if (open > 0) {
    await Promise.race([new Promise<void>((resolve) => (drained = resolve)), new Promise((resolve) => setTimeout(resolve, graceMs))]);
  }
  if (open > 0) {
    tally.failed[`no answer ${graceMs / 1000} s after the last request`] = open;
    gaveUp = true;
  }
  agent.destroy();
  const seconds = Math.max(spec.durationS, (lastMeasuredEnd - measuredFrom) / 1000);
  return { tally, seconds };
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]!) as LoadSpec;
  let result: LoadResult;
  if (spec.mode === 'max') {
    if (spec.warmupS > 0) await runAutocannon(spec, spec.warmupS);
    const { tally, result: ac } = await runAutocannon(spec, spec.durationS);
    result = {
      mode: 'max', ok: tally.ok, failed: tally.failed, durationS: spec.durationS, rps: round(tally.ok / spec.durationS, 1),
      latency: summarize(tally.latencies), sampleFailure: tally.sampleFailure,
      autocannon: { p50: ac.latency.p50, p90: ac.latency.p90, p99: ac.latency.p99, max: ac.latency.max, rps: ac.requests.average },
    };
  } else {
    const { tally, seconds } = await runPaced(spec);
    result = {
      mode: 'paced', ok: tally.ok, failed: tally.failed, durationS: round(seconds), rps: round(tally.ok / seconds, 1),
      latency: summarize(tally.latencies), firstByte: summarize(tally.firstByte), sampleFailure: tally.sampleFailure,
    };
  }
  const used = process.cpuUsage();
  result.selfCpu = round((used.user + used.system) / 1000 / performance.now(), 2);
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`load failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
