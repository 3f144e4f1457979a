/**
 * `npm run bench`: starts what the benchmarks need (embedded PostgreSQL, the Temporal dev server, the fake
 * upstream, the API, the worker and the baselines' workers, each in its own process), runs every scenario
 * against its baselines in the same run (bare starts, the same-shape workflow, the static route, the
 * fake upstream directly), judges issue 13's targets (bench/lib/targets.ts) and writes bench/results.json
 * and BENCHMARKS.md.
 *
 *   npm run bench                       every scenario (about 12 minutes on 2 cores; `scaling` is meant for
 *                                       --stack and says so when it runs on the dev server)
 *   npm run bench -- --quick            shorter loads and fewer tasks: a smoke run, figures not comparable
 *   npm run bench -- --only chat,e2e    some scenarios (chat, admission, polling, e2e, carrying, profile, scaling);
 *                                       the report goes to .bench-data/partial/, not over the full one
 *   npm run bench -- --out /tmp/b       results.json and BENCHMARKS.md there instead (trial runs)
 *   npm run bench -- --stack            against the Temporal server on PostgreSQL (the production
 *                                       topology's) instead of the dev server; the report goes to
 *                                       .bench-data/stack/ unless --out says otherwise
 *
 * DATABASE_URL / TEMPORAL_ADDRESS, when set, are used instead of the embedded services.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startBenchEnv } from './lib/bench-env';
import type { Durations } from './lib/durations';
import { ROOT } from './lib/procs';
import { ledgerInvariant, taskCounts, waitForDrain } from './lib/tasks';
import { writeReport, type BenchResults } from './lib/report';
import { runChat } from './scenarios/chat';
import { runAdmission } from './scenarios/admission';
import { runPolling } from './scenarios/polling';
import { runE2e } from './scenarios/e2e';
import { runCarrying } from './scenarios/carrying';
import { runProfiles } from './scenarios/profile';
// Issue 14: admission through 1-2 API processes and workers, and the topology in the report's header.
import { runScaling, topologyOf } from './scenarios/scaling';

const SCENARIOS = ['chat', 'admission', 'polling', 'e2e', 'carrying', 'profile', 'scaling'] as const;
type Scenario = (typeof SCENARIOS)[number];

function machine(): BenchResults['machine'] {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const git = (...args: string[]) => {
    try {
      return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
    } catch {
      return 'unknown';
    }
  };
  return {
    cpus: os.availableParallelism(),
    cpuModel: /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round(os.totalmem() / 1024 ** 3 * 10) / 10,
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    commit: git('rev-parse', '--short', 'HEAD'),
    dirty: git('status', '--porcelain').length > 0,
    date: new Date().toISOString(),
  };
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const onlyArg = args.find((a) => a.startsWith('--only'));
  const only = onlyArg ? (onlyArg.includes('=') ? onlyArg.split('=')[1]! : args[args.indexOf(onlyArg) + 1] ?? '').split(',').filter(Boolean) : [...SCENARIOS];
  const outArg = args.find((a) => a.startsWith('--out'));
  // A partial run (--only) must not replace the committed report of a full one: it goes to .bench-data/.
  const partial = only.length < SCENARIOS.length;
  const onStack = args.includes('--stack');
  const outDir = outArg
    ? path.resolve(outArg.includes('=') ? outArg.split('=')[1]! : args[args.indexOf(outArg) + 1] ?? '')
    : onStack ? path.join(ROOT, '.bench-data', 'stack') : partial ? path.join(ROOT, '.bench-data', 'partial') : null;
  const unknown = only.filter((s) => !(SCENARIOS as readonly string[]).includes(s));
  if (unknown.length > 0) throw new Error(`unknown scenario(s) ${unknown.join(', ')}; known: ${SCENARIOS.join(', ')}`);
  const durations: Durations = quick ? { warmupS: 2, measureS: 5, quick } : { warmupS: 2, measureS: 8, quick };
  const started = Date.now();
  const log = (msg: string) => process.stdout.write(`[bench ${Math.round((Date.now() - started) / 1000)}s] ${msg}\n`);

  const results: BenchResults = { machine: machine(), durations, scenarios: {}, errors: {}, scenarioS: {}, totalS: 0 };
  log(`${results.machine.cpus} CPUs (${results.machine.cpuModel}), ${results.machine.memoryGb} GB, Node ${results.machine.node}, commit ${results.machine.commit}${results.machine.dirty ? ' (with local changes)' : ''}`);
  if (onStack) log('Temporal: the server on PostgreSQL (--stack), not the dev server');
  const env = await startBenchEnv({ log, temporalServer: onStack });
  results.topology = topologyOf(env, onStack);
  // Ctrl-C or a kill stops every process the run started, not only the driver.
  const interrupted = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping`);
    void env.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  let failed = false;
  try {
    const runners: Record<Scenario, () => Promise<unknown>> = {
      chat: () => runChat(env, durations),
      admission: () => runAdmission(env, durations),
      polling: () => runPolling(env, durations),
      e2e: () => runE2e(env, durations),
      carrying: () => runCarrying(env, durations),
      profile: () => runProfiles(env, durations),
      scaling: () => runScaling(env, durations, { temporal: onStack ? 'server' : 'dev-server' }),
    };
    for (const name of SCENARIOS) {
      if (!only.includes(name)) continue;
      const scenarioStarted = Date.now();
      try {
        (results.scenarios as Record<string, unknown>)[name] = await runners[name]();
      } catch (error) {
        failed = true;
        results.errors[name] = error instanceof Error ? error.stack ?? error.message : String(error);
        log(`${name} failed: ${results.errors[name]}`);
      }
      results.scenarioS[name] = Math.round((Date.now() - scenarioStarted) / 1000);
      log(`${name} took ${results.scenarioS[name]} s`);
    }
    const left = await waitForDrain(env.orm, 120_000, env.temporal);
    results.invariant = { ...(await ledgerInvariant(env.orm)), openTasks: left, tasks: await taskCounts(env.orm) };
    if (results.invariant.violations.length > 0) {
      failed = true;
      log(`ledger invariant violated: ${results.invariant.violations.join('; ')}`);
    }
  } finally {
    results.totalS = Math.round((Date.now() - started) / 1000);
    await env.stop().catch((error) => log(`stop failed: ${String(error)}`));
  }
  const jsonPath = outDir ? path.join(outDir, 'results.json') : path.join(ROOT, 'bench', 'results.json');
  const reportPath = outDir ? path.join(outDir, 'BENCHMARKS.md') : path.join(ROOT, 'BENCHMARKS.md');
  if (outDir) await mkdir(outDir, { recursive: true });
  await writeFile(jsonPath, JSON.stringify(results, null, 2) + '\n');
  await writeReport(results, reportPath);
  log(`done in ${results.totalS} s: ${path.relative(ROOT, jsonPath)}, ${path.relative(ROOT, reportPath)}`);
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
    process.exit(1);
  },
);
