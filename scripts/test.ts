/**
 * `npm test`: starts what the tests need (a fresh embedded PostgreSQL and Temporal dev server on free
 * ports, the workflow bundle built once), runs the unit tests in parallel, then the integration tests and
 * the small fault suite (CHAOS_SCALE=small) in band, scans the run's workflow histories, logs and error
 * answers for every secret the tests made (scripts/secret-scan.ts; counted as one test), stops everything,
 * and ends with one line `tests: N passed, M failed`. `npm run test:chaos` (`--chaos`) runs only the fault suite at full scale.
 *
 * DATABASE_URL / TEMPORAL_ADDRESS, when set, are used instead of the embedded services.
 * Extra arguments go to jest (e.g. `npm test -- test/integration/spine.test.ts`).
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { freePort } from '../src/infra/ports';
import { startLocalStack } from '../src/local-stack';
import { initOrm, migrateUp } from '../src/db/orm';
import { bundleWorkflows } from '../workers/media-worker';
import { scanForSecrets } from './secret-scan';

const root = path.resolve(__dirname, '..');
const testDataRoot = path.join(root, '.test-data');
/** One folder per run, so two runs on one machine (or one left by a killed run) never share a database. */
const dataDir = path.join(testDataRoot, `run-${process.pid}`);

/** Removes the folders of earlier runs whose process is gone. */
async function removeStaleRuns(): Promise<void> {
  const entries = await readdir(testDataRoot).catch(() => [] as string[]);
  for (const entry of entries) {
    const pid = Number(/^run-(\d+)$/.exec(entry)?.[1]);
    if (!pid || isAlive(pid)) continue;
    await rm(path.join(testDataRoot, entry), { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface JestSummary {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTotalTests: number;
  success: boolean;
}

async function main(): Promise<number> {
  const chaosOnly = process.argv.includes('--chaos');
  const args = process.argv.slice(2).filter((arg) => arg !== '--chaos');
  const log = (msg: string) => process.stdout.write(`[test] ${msg}\n`);
  await removeStaleRuns();
  await mkdir(dataDir, { recursive: true });

  const started = Date.now();
  const stack = await startLocalStack({
    databaseUrl: process.env.DATABASE_URL,
    temporalAddress: process.env.TEMPORAL_ADDRESS,
    dataDir,
    env: process.env,
    log,
    headless: true,
    postgresPort: await freePort(),
    temporalPort: await freePort(),
  });
  try {
    log(`services ready in ${Math.round((Date.now() - started) / 1000)} s`);
    const orm = await initOrm({ url: stack.databaseUrl });
    await migrateUp(orm);
    await orm.close();
    const bundle = await bundleWorkflows();
    const bundlePath = path.join(dataDir, 'workflow-bundle.js');
    await writeFile(bundlePath, bundle.code);

    const env = {
      ...process.env,
      DATABASE_URL: stack.databaseUrl,
      TEMPORAL_ADDRESS: stack.temporalAddress,
      WORKFLOW_BUNDLE_PATH: bundlePath,
      TEST_DATA_DIR: dataDir,
      NODE_ENV: 'test',
    };
    const summaries: JestSummary[] = [];
    // The fault suite kills and restarts processes: in band, after everything else.
    const chaos = { project: 'chaos', extra: ['--runInBand'], scale: chaosOnly ? 'full' : process.env.CHAOS_SCALE ?? 'small' };
    const runs: { project: string; extra: string[]; scale?: string }[] = chaosOnly
      ? [chaos]
      : [{ project: 'unit', extra: [] }, { project: 'integration', extra: ['--runInBand'] }, chaos];
    for (const run of runs) {
      const outputFile = path.join(dataDir, `jest-${run.project}.json`);
      await rm(outputFile, { force: true });
      // Paths first: --selectProjects takes every word after it.
      const code = await runJest([...args, ...run.extra, '--json', `--outputFile=${outputFile}`, '--passWithNoTests', '--selectProjects', run.project], run.scale ? { ...env, CHAOS_SCALE: run.scale } : env);
      try {
        summaries.push(JSON.parse(await readFile(outputFile, 'utf8')) as JestSummary);
      } catch {
        summaries.push({ numPassedTests: 0, numFailedTests: 1, numPendingTests: 0, numTotalTests: 1, success: false });
        log(`jest (${run.project}) exited ${code} without a report`);
      }
    }
    summaries.push(await secretScan(dataDir, stack.temporalAddress, log));
    const passed = summaries.reduce((n, s) => n + s.numPassedTests, 0);
    const failed = summaries.reduce((n, s) => n + s.numFailedTests, 0);
    const skipped = summaries.reduce((n, s) => n + s.numPendingTests, 0);
    const ok = summaries.every((s) => s.success) && failed === 0;
    process.stdout.write(`\ntests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
    return ok ? 0 : 1;
  } finally {
    await stack.stop();
    await rm(path.join(dataDir, 'postgres'), { recursive: true, force: true });
  }
}

/** The secret scan over the run's histories, logs and error answers, counted as one test. */
async function secretScan(dir: string, temporalAddress: string, log: (msg: string) => void): Promise<JestSummary> {
  const result = await scanForSecrets({ dataDir: dir, temporalAddress });
  log(`secret scan: ${result.secrets} secrets looked for in ${result.histories} workflow histories, ${result.logLines} log lines, ${result.errorBodies} error answers: ${result.leaks.length} found`);
  for (const leak of result.leaks) log(`  leaked: ${leak}`);
  const ok = result.leaks.length === 0;
  return { numPassedTests: ok ? 1 : 0, numFailedTests: ok ? 0 : 1, numPendingTests: 0, numTotalTests: 1, success: ok };
}

function runJest(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [require.resolve('jest/bin/jest'), ...args], { cwd: root, env, stdio: 'inherit' });
    child.on('exit', (code) => resolve(code ?? 1));
  });
}

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`test run failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
    process.exit(1);
  },
);
