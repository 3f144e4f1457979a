import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { testEnv, type TestGateway } from './harness';
import { logFile } from './leak-watch';

const root = path.resolve(__dirname, '../..');

/** A child process of ours: a worker (`workers/main.ts`) serving the test gateway's task queue, or an API. */
export interface WorkerProcess {
  pid: number;
  /** stderr and stdout so far, for failure messages. */
  output(): string;
  /** SIGKILLs the worker's whole process group (tsx runs node in a child of its own). */
  kill(): Promise<void>;
  exited: Promise<number | null>;
}

export function spawnWorker(gw: TestGateway): WorkerProcess {
  const env = testEnv();
  return spawnTsx('workers/main.ts', 'worker', {
    DATABASE_URL: env.databaseUrl,
    TEMPORAL_ADDRESS: env.temporalAddress,
    TEMPORAL_TASK_QUEUE: gw.taskQueue,
    WORKFLOW_BUNDLE_PATH: env.bundlePath,
    GATEWAY_SECRET: gw.secret,
    ASSET_DIR: gw.config.assetDir,
    DATA_DIR: gw.config.dataDir,
    PUBLIC_URL: gw.config.http.publicUrl,
    OUTBOUND_ALLOWLIST: gw.config.outboundAllowlist.join(','),
    LOG_LEVEL: 'info',
    NODE_ENV: 'test',
  });
}

/**
 * One of our entry points (`script`, run by tsx) in a child process of its own, with only `env` (and PATH,
 * HOME); its stdout also goes to the secret scan's `logs-<logName>-*.log`.
 */
export function spawnTsx(script: string, logName: string, env: Record<string, string>): WorkerProcess {
  const child: ChildProcess = spawn(path.join(root, 'node_modules/.bin/tsx'), [script], {
    cwd: root,
    // A process group of its own, so a kill reaches tsx's node child too.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
  });
  let output = '';
  // Its log lines also go where the secret scan at the end of `npm test` reads them.
  const logPath = logFile(logName);
  if (logPath) child.stdout?.pipe(createWriteStream(logPath, { flags: 'a' }));
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${script} did not start`);
  let killed = false;
  return {
    pid,
    output: () => output.slice(-4000),
    exited,
    async kill() {
      if (killed) return;
      killed = true;
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
      await exited;
    },
  };
}
