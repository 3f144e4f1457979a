/**
 * Worker of the same-shape baseline: the real `mediaTaskWorkflow` bundle (WORKFLOW_BUNDLE_PATH, the one
 * the gateway's worker runs) with the real worker options (createMediaWorker), on a task queue of its
 * own, whose activities are no-op stubs returning canned values: reserve admits, pick returns a fake
 * channel, submit finishes at once with one output, persist returns an asset id, settle charges, the
 * callback returns. So a same-shape task is our exact sequence of steps and commands (same local/queued
 * choices, options, patches), and the difference to the gateway's task is what our activities cost.
 * Env: TEMPORAL_ADDRESS, BENCH_TASK_QUEUE, WORKFLOW_BUNDLE_PATH. Prints `READY`.
 */
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createMediaWorker } from '../../workers/media-worker';
import { stubsForEveryActivity, unusedDeps } from '../lib/same-shape';

async function main(): Promise<void> {
  Runtime.install({ shutdownSignals: [], logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} } });
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS! });
  // createMediaWorker builds the real activities from its deps and hands them to Worker.create with the
  // gateway's worker options. Swap only the activities on their way in, so the options stay whatever
  // the gateway's are. The deps are never used: the real activities are only read for their names.
  const create = Worker.create.bind(Worker);
  Worker.create = (options) => create({ ...options, activities: stubsForEveryActivity((options.activities ?? {}) as Record<string, unknown>) });
  const worker = await createMediaWorker({
    connection,
    namespace: process.env.TEMPORAL_NAMESPACE ?? 'default',
    taskQueue: process.env.BENCH_TASK_QUEUE!,
    workflowBundle: { codePath: process.env.WORKFLOW_BUNDLE_PATH! },
    activities: unusedDeps(),
  });
  process.once('SIGTERM', () => worker.shutdown());
  process.stdout.write('READY\n');
  await worker.run();
  await connection.close();
  process.exit(0);
}

if (require.main === module) {
  main().catch((error) => {
    process.stderr.write(`same-shape worker failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}
