import { NativeConnection, Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import path from 'node:path';
import { createActivities, type ActivityDeps } from '../activities';

/** Bundles the workflows once (webpack, a few seconds); the worker and tests reuse the result. */
export async function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({
    workflowsPath: path.resolve(__dirname, '../workflows/index.ts'),
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} },
  });
}

export interface MediaWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: ActivityDeps;
  /** A pre-built bundle (tests and benchmarks build one and share it); otherwise bundled here. */
  workflowBundle?: WorkflowBundleWithSourceMap | { codePath: string };
  /** How long running activities get to finish on shutdown before they are handed back. */
  shutdownGraceTime?: string;
}

/** The worker of the media-task workflow and its activities. */
export async function createMediaWorker(opts: MediaWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    workflowBundle: opts.workflowBundle ?? (await bundleWorkflows()),
    activities: createActivities(opts.activities),
    shutdownGraceTime: (opts.shutdownGraceTime ?? '10 seconds') as `${number} seconds`,
    maxConcurrentActivityTaskExecutions: 200,
    maxConcurrentLocalActivityExecutions: 200,
    maxConcurrentWorkflowTaskExecutions: 100,
    maxCachedWorkflows: 2000,
  });
}
