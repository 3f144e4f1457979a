/**
 * The secret scan at the end of `npm test`: every secret the tests created (consumer keys, webhook
 * secrets, the fakes' provider credentials, admin tokens and gateway secrets, recorded by
 * test/support/leak-watch.ts) is looked for in every workflow history of the run's Temporal server, in
 * the gateways' and workers' logs, and in every error answer the tests received. Any hit is a leak.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Connection, Client } from '@temporalio/client';
import { LEAK_WATCH_DIR, textOf } from '../test/support/leak-watch';

export interface SecretScanResult {
  secrets: number;
  histories: number;
  logLines: number;
  errorBodies: number;
  /** Where each secret was found: `<kind> in <place>`, the secret itself never printed. */
  leaks: string[];
}

/** How many histories are fetched at once. */
const FETCH_PARALLELISM = 8;

export async function scanForSecrets(opts: { dataDir: string; temporalAddress: string }): Promise<SecretScanResult> {
  const dir = path.join(opts.dataDir, LEAK_WATCH_DIR);
  const files = await readdir(dir).catch(() => [] as string[]);
  const read = async (prefix: string) =>
    (await Promise.all(files.filter((f) => f.startsWith(prefix)).map((f) => readFile(path.join(dir, f), 'utf8')))).join('\n');

  // A webhook secret's key is the part after `whsec_`: that is what would leak.
  const secrets = [...new Set((await read('secrets-')).split('\n').map((s) => s.trim().replace(/^whsec_/, '')).filter((s) => s.length >= 16))];
  const logs = await read('logs-');
  const errors = await read('errors-');
  const leaks: string[] = [];
  const look = (place: string, text: string) => {
    for (const secret of secrets) {
      if (text.includes(secret)) leaks.push(`${describe(secret)} in ${place}`);
    }
  };
  look('the logs', logs);
  look('an error answer', errors);

  const connection = await Connection.connect({ address: opts.temporalAddress });
  let histories = 0;
  try {
    const client = new Client({ connection });
    const executions: { workflowId: string; runId: string }[] = [];
    for await (const execution of client.workflow.list()) executions.push({ workflowId: execution.workflowId, runId: execution.runId });
    let next = 0;
    const lane = async () => {
      while (next < executions.length) {
        const { workflowId, runId } = executions[next++]!;
        const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
        histories++;
        look(`the history of ${workflowId}`, textOf(history));
      }
    };
    await Promise.all(Array.from({ length: FETCH_PARALLELISM }, lane));
  } finally {
    await connection.close();
  }
  return {
    secrets: secrets.length,
    histories,
    logLines: logs.split('\n').filter(Boolean).length,
    errorBodies: errors.split('\n').filter(Boolean).length,
    leaks: [...new Set(leaks)],
  };
}

/** A secret's kind and its first characters, enough to find it, not to use it. */
function describe(secret: string): string {
  const kind = secret.startsWith('sk-gw-') ? 'a consumer key' : secret.startsWith('admin-') ? 'an admin token' : 'a secret';
  return `${kind} (${secret.slice(0, 8)}...)`;
}
