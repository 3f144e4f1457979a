/**
 * Worker of the bare-start baseline: runs `benchEmptyWorkflow` on its own task queue, so the baseline's
 * workflows complete like the gateway's do. Env: TEMPORAL_ADDRESS, BENCH_TASK_QUEUE. Prints `READY`.
 */
import path from 'node:path';
import { NativeConnection, Runtime, Worker, bundleWorkflowCode } from '@temporalio/worker';

async function main(): Promise<void> {
  Runtime.install({ logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} } });
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS! });
  const bundle = await bundleWorkflowCode({
    workflowsPath: path.resolve(__dirname, '../workflows/empty.workflow.ts'),
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} },
  });
  const worker = await Worker.create({ connection, taskQueue: process.env.BENCH_TASK_QUEUE!, workflowBundle: bundle, maxConcurrentWorkflowTaskExecutions: 100 });
  process.once('SIGTERM', () => worker.shutdown());
  process.stdout.write('READY\n');
  await worker.run();
  await connection.close();
  process.exit(0);
}

main().catch((error) => {
  process.stderr.write(`empty worker failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
