import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, openSync } from 'node:fs';
import { exitOf, sleep, tail, terminate } from './processes';

/** Options of startServiceProcess. */
export interface ServiceProcessOptions {
  /** For errors: "the S3 server". */
  title: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Appended to; each run opens with a `---` line. */
  logPath: string;
  /** Resolves true once the service answers; polled every 200 ms. */
  ready: () => Promise<boolean>;
  readyTimeoutMs?: number;
  /** Signals and how long to wait after each; default SIGTERM 10 s, then SIGKILL. */
  stopSteps?: readonly (readonly [NodeJS.Signals, number])[];
  /** A process group of its own: a Ctrl-C at the terminal then reaches only us, and we stop it in order. */
  ownProcessGroup?: boolean;
}

/** A long-running child (a server binary) with its output in a log file. */
export interface ServiceProcess {
  pid: number;
  /** Resolves when the process has exited, whoever stopped it. */
  exited: Promise<void>;
  /** The stop steps in turn; resolves once it has exited. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Spawns a server, kills it if this process exits first, and resolves once `ready` says it answers (or
 * throws with the log's last lines when it exits or stays silent).
 */
export async function startServiceProcess(opts: ServiceProcessOptions): Promise<ServiceProcess> {
  appendFileSync(opts.logPath, `--- ${new Date().toISOString()} ${opts.command} ${opts.args.join(' ')}\n`);
  const logFd = openSync(opts.logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(opts.command, opts.args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', logFd, logFd], detached: opts.ownProcessGroup });
  } finally {
    closeSync(logFd);
  }
  const exited = exitOf(child, opts.logPath, opts.title);
  // 'exit' handlers cannot wait, and a server still shutting down would hold its port for the next run.
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      process.off('exit', killOnExit);
      await terminate(child, exited, opts.stopSteps ?? [['SIGTERM', 10_000], ['SIGKILL', 5_000]]);
    })();
    return stopping;
  };
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  try {
    for (;;) {
      if (gone) throw new Error(`${opts.title} exited during start-up. Last lines of ${opts.logPath}:\n${await tail(opts.logPath)}`);
      if (await opts.ready().catch(() => false)) break;
      if (Date.now() > deadline) throw new Error(`${opts.title} did not answer in time. Last lines of ${opts.logPath}:\n${await tail(opts.logPath)}`);
      await sleep(200);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { pid: child.pid!, exited, stop };
}
