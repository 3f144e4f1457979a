/**
 * Load of the task baselines, from a process of its own. `workflow: 'empty'`: bare
 * `client.workflow.start` of `benchEmptyWorkflow` (the engine). `workflow: 'same-shape'`: the real
 * mediaTaskWorkflow started exactly the way the API starts it (its own start function from
 * src/temporal/media-tasks.ts), on the same-shape worker's queue (the engine + our workflow's shape).
 * Argument: JSON {address, taskQueue, workflow, mode: 'max' | 'paced', concurrency, rate, durationS,
 * warmupS, awaitResult, callbackUrl}. Prints `RESULT <LoadResult JSON>`.
 */
import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { BaselineSpec } from '../lib/bench-env';
import type { LoadResult } from '../lib/load-spec';
import { sameShapeInput } from '../lib/same-shape';
import { round, summarize } from '../lib/stats';
import { startMediaTask } from '../../src/temporal/media-tasks';

/** What bench-env asks for (BaselineSpec), with where to start it. */
interface Spec extends BaselineSpec {
  address: string;
  taskQueue: string;
}

const SAMPLE_IDS = 5;

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]!) as Spec;
  const connection = await Connection.connect({ address: spec.address });
  const client = new Client({ connection });
  const latencies: number[] = [];
  const results: number[] = [];
  /** Measured workflows, in the order they were started (with awaitResult: finished). */
  const measuredIds: string[] = [];
  const failed: Record<string, number> = {};
  let sampleFailure: string | undefined;
  let ok = 0;
  let started = 0;
  /** Starts one workflow the way its kind is started; resolves with its id once the start (or admission) answered. */
  const startOne = async (): Promise<string> => {
    if (spec.workflow === 'same-shape') {
      // Started as the API starts a task it has reserved (the reservation itself is the API's, not the shape's).
      const input = { ...sameShapeInput({ callbackUrl: spec.callbackUrl }), admittedByApi: true };
      await startMediaTask(client, spec.taskQueue, input);
      return input.taskId;
    }
    const id = `bench-empty-${randomUUID()}`;
    await client.workflow.start('benchEmptyWorkflow', { taskQueue: spec.taskQueue, workflowId: id });
    return id;
  };
  const start = async (measure: boolean, due = performance.now()) => {
    try {
      const id = await startOne();
      started++;
      if (measure) {
        ok++;
        latencies.push(performance.now() - due);
        if (!spec.awaitResult) measuredIds.push(id);
      }
      if (spec.awaitResult) {
        await client.workflow.getHandle(id).result();
        // Only finished workflows are sampled: a history read mid-way would count fewer events.
        if (measure) {
          results.push(performance.now() - due);
          measuredIds.push(id);
        }
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
  const result: LoadResult = {
    mode: spec.mode, ok, failed, durationS: round(seconds), rps: round(ok / seconds, 1), latency: summarize(latencies), sampleFailure, selfCpu,
    started, sampleIds: measuredIds.slice(-SAMPLE_IDS), ...(spec.awaitResult ? { resultLatency: summarize(results) } : {}),
  };
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  await connection.close();
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`baseline starts failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
