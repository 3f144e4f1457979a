import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { initOrm, type Orm } from '../../src/db/orm';
import { isAlive } from '../../src/infra/processes';
import { tail } from '../../src/infra/processes';
import { startStack, type Stack } from '../../scripts/stack/stack';
import type { Query } from '../chaos/support/chaos';

/** A stack of the test file's own (2 API processes, 2 workers, headless) and what the checks need. */
export interface TestStack {
  stack: Stack;
  admin(method: string, route: string, body?: unknown): Promise<any>;
  query: Query;
  dispose(): Promise<void>;
}

export async function startTestStack(opts: { apiProcesses?: number; workers?: number } = {}): Promise<TestStack> {
  const dataDir = path.resolve(__dirname, '..', '..', '.test-data', `stack-${process.pid}-${randomBytes(3).toString('hex')}`);
  const stack = await startStack({
    dataDir, headless: true, apiProcesses: opts.apiProcesses ?? 2, workers: opts.workers ?? 2,
    env: { LOG_LEVEL: 'info' }, log: (msg) => process.env.STACK_TEST_VERBOSE && console.log(msg),
  });
  let orm: Orm | null = null;
  const query: Query = async (sql, params) => {
    orm ??= await initOrm({ url: stack.databaseUrl, poolMax: 4 });
    return orm.em.fork().getConnection().execute(sql, params ?? []);
  };
  return {
    stack,
    query,
    async admin(method, route, body) {
      const answer = await fetch(`${stack.url}${route}`, {
        method,
        headers: { authorization: `Bearer ${stack.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const parsed = await answer.json();
      if (answer.status >= 300) throw new Error(`${method} ${route} -> ${answer.status} ${JSON.stringify(parsed)}`);
      return parsed;
    },
    async dispose() {
      await orm?.close();
      await stack.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The API processes of the cluster now alive, from the "API listening" line each writes. */
export async function livingApiProcesses(stack: Stack): Promise<{ pid: number; name: string }[]> {
  const found = new Map<number, string>();
  for (const line of (await tail(stack.api.logPath, 100_000)).split('\n')) {
    if (!line.includes('"API listening"')) continue;
    const entry = JSON.parse(line) as { pid: number; name: string };
    if (isAlive(entry.pid)) found.set(entry.pid, entry.name);
  }
  return [...found].map(([pid, name]) => ({ pid, name }));
}

/** Which API process (api-1, api-2, ...) answered each request to `pathPrefix`, from the request log. */
export async function answeredBy(stack: Stack, pathPrefix: string): Promise<string[]> {
  const names: string[] = [];
  for (const line of (await tail(stack.api.logPath, 100_000)).split('\n')) {
    if (!line.startsWith('{') || !line.includes('"msg":"request"')) continue;
    const entry = JSON.parse(line) as { name: string; path?: string };
    if (entry.path?.startsWith(pathPrefix)) names.push(entry.name);
  }
  return names;
}
