/**
 * Load of the admission baseline: bare `client.workflow.start` of `benchEmptyWorkflow`, from a process
 * of its own. Argument: JSON {address, taskQueue, mode: 'max' | 'paced', concurrency, rate, durationS,
 * warmupS}. Prints `RESULT <LoadResult JSON>`.
 */
import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { LoadResult } from '../lib/load-spec';
import { round, summarize } from '../lib/stats';

interface Spec {
  address: string;
  taskQueue: string;
  mode: 'max' | 'paced';
  concurrency?: number;
  rate?: number;
  durationS: number;
  warmupS: number;
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]!) as Spec;
  const connection = await Connection.connect({ address: spec.address });
  const client = new Client({ connection });
  const latencies: number[] = [];
  const failed: Record<string, number> = {};
  let sampleFailure: string | undefined;
  let ok = 0;
  const start = async (measure: boolean, due = performance.now()) => {
    try {
      await client.workflow.start('benchEmptyWorkflow', { taskQueue: spec.taskQueue, workflowId: `bench-empty-${randomUUID()}` });
      if (measure) {
        ok++;
        latencies.push(performance.now() - due);
      }
    } catch (error) {
      if (measure) {
        failed.error = (failed.error ?? 0) + 1;
        sampleFailure ??= error instanceof Error ? error.message : String(error);
      }
    }
  };

  let seconds = spec.durationS;
  if (spec.mode === 'max') {
    const loop = async (until: number, measure: boolean) => {
      while (performance.now() < until) await start(measure);
    };
    const lanes = spec.concurrency ?? 32;
    const warmEnd = performance.now() + spec.warmupS * 1000;
    await Promise.all(Array.from({ length: lanes }, () => loop(warmEnd, false)));
    const t0 = performance.now();
    await Promise.all(Array.from({ length: lanes }, () => loop(t0 + spec.durationS * 1000, true)));
    seconds = (performance.now() - t0) / 1000;
  } else {
    const rate = spec.rate ?? 50;
    const interval = 1000 / rate;
    const warm = Math.round(rate * spec.warmupS);
    const total = warm + Math.round(rate * spec.durationS);
    const t0 = performance.now() + 20;
    const pending: Promise<void>[] = [];
    await new Promise<void>((resolve) => {
      let sent = 0;
      const tick = () => {
        while (sent < total && t0 + sent * interval <= performance.now()) {
          pending.push(start(sent >= warm, t0 + sent * interval));
          sent++;
        }
        if (sent < total) setTimeout(tick, Math.max(0, t0 + sent * interval - performance.now()));
        else resolve();
      };
      setTimeout(tick, 20);
    });
    // As in load.ts: starts still unanswered after the grace are failures, not a stalled run.
    let unanswered = pending.length;
    for (const p of pending) void p.finally(() => unanswered--);
    const graceMs = Math.min(60_000, Math.max(5_000, spec.durationS * 1000));
    await Promise.race([Promise.all(pending), new Promise((resolve) => setTimeout(resolve, graceMs))]);
    if (unanswered > 0) failed[`no answer ${graceMs / 1000} s after the last start`] = unanswered;
  }
  const used = process.cpuUsage();
  const selfCpu = round((used.user + used.system) / 1000 / performance.now(), 2);
  const result: LoadResult = { mode: spec.mode, ok, failed, durationS: round(seconds), rps: round(ok / seconds, 1), latency: summarize(latencies), sampleFailure, selfCpu };
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  await connection.close();
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`bare starts failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
