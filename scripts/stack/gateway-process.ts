import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, openSync } from 'node:fs';
import path from 'node:path';
import { exitOf, sleep, tail, terminate } from '../../src/infra/processes';

const root = path.resolve(__dirname, '..', '..');
/** node with tsx's loader, not the tsx CLI: the CLI would sit between us and the process we signal. */
const NODE_ARGS = ['--import', 'tsx'];
/** A draining worker finishes its running activities; an API its in-flight requests. */
const STOP_STEPS = [['SIGTERM', 60_000], ['SIGKILL', 5_000]] as const;

/** One of our own processes (an API cluster or a worker), restartable in place. */
export interface GatewayProcess {
  name: string;
  readonly pid: number;
  logPath: string;
  /** SIGTERM (graceful drain), then SIGKILL after 60 s; resolves once it has exited. */
  stop(): Promise<void>;
  /** SIGKILL: a crash. */
  kill(): Promise<void>;
  /** Stops it (if running) and starts a new one with the same settings; resolves once it is ready. */
  restart(): Promise<void>;
}

/**
 * Spawns `node --import tsx <entry>` with `env`, output appended to logPath, and waits until `ready` holds. Its own
 * process group: a Ctrl-C at the terminal reaches only the stack, which stops everything in order.
 */
export async function startGatewayProcess(opts: {
  name: string;
  entry: string;
  env: NodeJS.ProcessEnv;
  logPath: string;
  ready: (logPath: string) => Promise<boolean>;
  readyTimeoutMs?: number;
}): Promise<GatewayProcess> {
  let child!: ChildProcess;
  let exited!: Promise<void>;
  const launch = async () => {
    appendFileSync(opts.logPath, `--- ${new Date().toISOString()} node ${NODE_ARGS.join(' ')} ${opts.entry}\n`);
    const fd = openSync(opts.logPath, 'a');
    try {
      child = spawn(process.execPath, [...NODE_ARGS, opts.entry], { cwd: root, env: opts.env, stdio: ['ignore', fd, fd], detached: true });
    } finally {
      closeSync(fd);
    }
    exited = exitOf(child, opts.logPath, opts.name);
    let gone = false;
    void exited.then(() => (gone = true));
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 120_000);
    for (;;) {
      if (gone) throw new Error(`${opts.name} exited during start-up. Last lines of ${opts.logPath}:\n${await tail(opts.logPath)}`);
      if (await opts.ready(opts.logPath).catch(() => false)) return;
      if (Date.now() > deadline) throw new Error(`${opts.name} was not ready in time. Last lines of ${opts.logPath}:\n${await tail(opts.logPath)}`);
      await sleep(250);
    }
  };
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  await launch();
  const handle: GatewayProcess = {
    name: opts.name,
    get pid() {
      return child.pid!;
    },
    logPath: opts.logPath,
    stop: () => terminate(child, exited, STOP_STEPS),
    kill: () => terminate(child, exited, [['SIGKILL', 5_000]]),
    async restart() {
      await handle.stop();
      await launch();
    },
  };
  return handle;
}

/** The current run's log holds `text` (a log line our processes write once they serve). */
export async function logSays(logPath: string, text: string): Promise<boolean> {
  return (await tail(logPath, 10_000)).includes(text);
}
