import { NativeConnection, Runtime, Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap, type LogLevel, type LogMetadata } from '@temporalio/worker';
import type { Logger } from '../src/log';
import path from 'node:path';
import { createActivities, type ActivityDeps } from '../activities';

/**
 * Bundles the workflows once (webpack, a few seconds); the worker and tests reuse the result.
 *
 * The source map the bundle carries, unless WORKFLOW_SOURCE_MAP=full, is an empty one. The SDK captures a stack
 * trace for every promise a workflow creates and maps each frame through the bundle's source map
 * (temporalio/sdk-typescript#1587); with an empty map those lookups cost nothing (measured: 0-13 ms of
 * worker CPU per instant task of about 60, within this machine's noise).
 * Workflow stack traces then name functions but not source lines; set WORKFLOW_SOURCE_MAP=full to debug.
 */
export async function bundleWorkflows(opts: { fullSourceMap?: boolean } = {}): Promise<WorkflowBundleWithSourceMap> {
  const bundle = await bundleWorkflowCode({
    workflowsPath: path.resolve(__dirname, '../workflows/index.ts'),
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} },
  });
  if (opts.fullSourceMap ?? process.env.WORKFLOW_SOURCE_MAP === 'full') return bundle;
  return { ...bundle, code: withEmptySourceMap(bundle.code) };
}

/**
 * Replaces the bundle's inline source map (the SDK requires one) with an empty one that keeps its `file`:
 * the worker names the bundle's script after it.
 */
function withEmptySourceMap(code: string): string {
  const at = code.lastIndexOf('//# sourceMappingURL=data:');
  const base64At = code.indexOf('base64,', at);
  if (at < 0 || base64At < 0) throw new Error('The workflow bundle has no inline source map');
  const { file } = JSON.parse(Buffer.from(code.slice(base64At + 'base64,'.length).trimEnd(), 'base64').toString('utf8')) as { file?: string };
  const map = { version: 3, file: file ?? 'workflow-bundle.js', sources: [], names: [], mappings: '' };
  return `${code.slice(0, at)}//# sourceMappingURL=data:application/json;base64,${Buffer.from(JSON.stringify(map)).toString('base64')}\n`;
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

/** Activity slots of one worker, and so the provider jobs it can wait on at once. */
const MAX_ACTIVITIES = 5000;

let runtimeInstalled = false;

/**
 * Routes the SDK's own logs (worker state, workflow logs) into our JSON log, once per process.
 * Must run before the first NativeConnection: that creates the SDK runtime.
 */
export function installRuntimeLogging(log: Logger): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const sdkLog = log.child({ component: 'temporal-sdk' });
  const levels: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = { TRACE: 'trace', DEBUG: 'debug', INFO: 'debug', WARN: 'warn', ERROR: 'error' };
  const forward = (level: LogLevel, message: string, meta?: LogMetadata) => sdkLog[levels[level]](meta ?? {}, message);
  try {
    Runtime.install({
      // Our entry points own SIGINT/SIGTERM and drain once; the SDK's own handlers would shut the worker
      // down a second time, racing ours ("IllegalStateError: Not running. Current state: DRAINING").
      shutdownSignals: [],
      logger: {
        log: forward,
        trace: (m, meta) => forward('TRACE', m, meta),
        debug: (m, meta) => forward('DEBUG', m, meta),
        info: (m, meta) => forward('INFO', m, meta),
        warn: (m, meta) => forward('WARN', m, meta),
        error: (m, meta) => forward('ERROR', m, meta),
      },
    });
  } catch {
    // The runtime already exists (another worker in this process made it first): keep its logger.
  }
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
    // waitForProvider holds a slot for a provider job's whole life, idle between polls: with 200 slots the
    // 201st job in flight was not polled until another ended (bench/: 2,000 jobs of 60 s). The short
    // steps are bounded by the database pool, not by this.
    maxConcurrentActivityTaskExecutions: MAX_ACTIVITIES,
    maxConcurrentLocalActivityExecutions: 200,
    maxConcurrentWorkflowTaskExecutions: 100,
    // Every task in flight stays cached (no replay from history when its wait ends), with room to spare.
    maxCachedWorkflows: MAX_ACTIVITIES,
  });
}
