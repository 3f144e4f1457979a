import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { freePort } from '../../src/infra/ports';
import { testEnv, uniqueId } from '../support/harness';
import { eventually } from '../support/checks';
import { spawnTsx } from '../support/worker-process';

/** `npm start` and `npm run worker` as an operator meets them: refusing a bad setup, stopping on Ctrl-C. */
describe('entry points', () => {
  const nonEmptyLines = (text: string) => text.split('\n').filter((line) => line.trim() !== '');

  it.each([
    ['src/main.ts', 'Gateway failed to start: '],
    ['workers/main.ts', 'Worker failed: '],
  ])('%s refuses an unsafe production setup with one line and exit code 1', async (script, prefix) => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'gw-prod-'));
    const child = spawnTsx(script, 'prod-config', { NODE_ENV: 'production', ADMIN_TOKEN: 'only-twenty-chars-x', DATA_DIR: dataDir, SEED_DEMO: 'true' });
    const code = await child.exited;
    expect(code).toBe(1);
    const lines = nonEmptyLines(child.output());
    expect(lines).toHaveLength(1);
    expect(lines[0]!.startsWith(`${prefix}Invalid configuration: `)).toBe(true);
    for (const name of ['GATEWAY_SECRET', 'ADMIN_TOKEN', 'SEED_DEMO', 'DATABASE_URL', 'TEMPORAL_ADDRESS', 'METRICS_PORT']) expect(lines[0]).toContain(name);
    expect(child.output()).not.toMatch(/\n\s+at /);
  }, 60_000);

  it('stops on Ctrl-C (SIGINT to the process group) with exit code 0 and no error line', async () => {
    const env = testEnv();
    const port = await freePort();
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'gw-ctrl-c-'));
    const child = spawnTsx('src/main.ts', 'ctrl-c', {
      NODE_ENV: 'test', PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir,
      DATABASE_URL: env.databaseUrl, TEMPORAL_ADDRESS: env.temporalAddress, TEMPORAL_TASK_QUEUE: uniqueId('tq'), WORKFLOW_BUNDLE_PATH: env.bundlePath,
      GATEWAY_SECRET: randomBytes(32).toString('hex'), ADMIN_TOKEN: randomBytes(20).toString('hex'), RUN_WORKER: 'true', SEED_DEMO: 'false', LOG_LEVEL: 'info',
    });
    try {
      await eventually('npm start answering /healthz', async () => {
        if (child.output().includes('failed to start')) throw new Error(child.output());
        return (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => null))?.status === 200;
      }, 90_000, 200);
      // What a terminal does on Ctrl-C: SIGINT to every process of the foreground group (tsx and node).
      process.kill(-child.pid, 'SIGINT');
      const code = await Promise.race([child.exited, new Promise((resolve) => setTimeout(() => resolve('timeout'), 60_000))]);
      expect({ code, output: code === 0 ? '' : child.output() }).toEqual({ code: 0, output: '' });
      const output = child.output();
      expect(output).toContain('"msg":"shutting down"');
      expect(output).not.toContain('IllegalStateError');
      const errorLines = nonEmptyLines(output).filter((line) => /"level":(50|60)/.test(line) || /^\w*Error\b/.test(line));
      expect(errorLines).toEqual([]);
    } finally {
      await child.kill();
    }
  }, 180_000);
});
