import type { WebhookReceiver } from '../../support/webhook-receiver';
import { checkCallbacks, type CallbackFigures } from './callbacks';
import { sleep, until, type Query } from './chaos';

const FINAL = ['succeeded', 'failed', 'cancelled'];

/** An HTTP answer, or the network error that took its place. */
export type Outcome = { status: number; body: any; headers?: Headers } | { error: string };

/** POSTs JSON once; a refused or cut connection comes back as `{error}` instead of throwing. */
export async function postOnce(url: string, key: string, body: unknown, idempotencyKey?: string): Promise<Outcome> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(90_000),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: the caller's assertion will show the text
    }
    return { status: response.status, body: parsed, headers: response.headers };
  } catch (error) {
    return { error: error instanceof Error ? `${error.message}${error.cause ? ` (${String((error.cause as Error).message ?? error.cause)})` : ''}` : String(error) };
  }
}

/**
 * POSTs with an Idempotency-Key until the gateway answers something other than a network error or a
 * 5xx (503 while a dependency is away): the retry a careful client makes. Returns the last answer and
 * how many tries it took.
 */
export async function postUntilAnswered(url: string, key: string, body: unknown, idempotencyKey: string, opts: { tries?: number; pauseMs?: number } = {}): Promise<{ answer: Outcome; tries: number; seen: Outcome[] }> {
  const seen: Outcome[] = [];
  const tries = opts.tries ?? 20;
  for (let attempt = 1; ; attempt++) {
    const answer = await postOnce(url, key, body, idempotencyKey);
    seen.push(answer);
    const retry = 'error' in answer || answer.status >= 500;
    if (!retry || attempt >= tries) return { answer, tries: attempt, seen };
    await sleep(opts.pauseMs ?? 1000);
  }
}

/** Waits until every task of the account is final; returns the count by status. */
export async function waitAllFinal(query: Query, accountId: string, expected: number, timeoutMs: number): Promise<Record<string, number>> {
  const deadline = Date.now() + timeoutMs;
  let last: Record<string, number> = {};
  for (;;) {
    const rows = await query<{ status: string; n: string }>('select status, count(*) as n from tasks where account_id = ? group by status', [accountId]).catch(() => null);
    if (rows) {
      last = Object.fromEntries(rows.map((row) => [row.status, Number(row.n)]));
      const total = Object.values(last).reduce((a, b) => a + b, 0);
      const open = Object.entries(last).filter(([status]) => !FINAL.includes(status)).reduce((a, [, n]) => a + n, 0);
      if (total >= expected && open === 0) return last;
    }
    if (Date.now() > deadline) throw new Error(`Tasks did not all finish within ${timeoutMs} ms: ${JSON.stringify(last)} (expected ${expected})`);
    await sleep(500);
  }
}

/** Seconds from acceptance to the final status over the account's tasks: median, 95th percentile, max. */
export async function latencies(query: Query, accountId: string): Promise<{ p50: number; p95: number; max: number }> {
  const rows = await query<{ s: string }>(
    'select extract(epoch from completed_at - created_at) as s from tasks where account_id = ? and completed_at is not null order by 1',
    [accountId],
  );
  const values = rows.map((row) => Number(row.s));
  const at = (share: number) => Math.round((values[Math.min(values.length - 1, Math.floor(values.length * share))] ?? 0) * 10) / 10;
  return { p50: at(0.5), p95: at(0.95), max: at(1) };
}

/** `make(i)` drawn once per index and kept: a retried POST must send the same body as its first try. */
export function drawnOnce<T>(make: (i: number) => T): (i: number) => T {
  const made = new Map<number, T>();
  return (i) => {
    if (!made.has(i)) made.set(i, make(i));
    return made.get(i)!;
  };
}

/** Waits until at least `count` of the account's tasks are running at their provider. */
export async function waitProcessing(query: Query, accountId: string, count: number, timeoutMs = 60_000): Promise<void> {
  await until('tasks in flight', async () => {
    const rows = await query<{ n: string }>(`select count(*) as n from tasks where account_id = ? and status = 'processing'`, [accountId]);
    return Number(rows[0]!.n) >= count;
  }, timeoutMs, 100);
}

/** The account's tasks by status. */
export async function statusCounts(query: Query, accountId: string): Promise<Record<string, number>> {
  const rows = await query<{ status: string; n: string }>('select status, count(*) as n from tasks where account_id = ? group by status', [accountId]);
  return Object.fromEntries(rows.map((row) => [row.status, Number(row.n)]));
}

/** Waits until the receiver has a callback for each of `ids`, then checks them all (see checkCallbacks). */
export async function waitCallbacks(receiver: WebhookReceiver, ids: readonly string[], secret: string, status: string, timeoutMs: number): Promise<CallbackFigures> {
  await until('every callback accepted', async () => {
    const seen = new Set(receiver.received.filter((hook) => hook.answeredWith < 300).map((hook) => (JSON.parse(hook.body) as { data: { id: string } }).data.id));
    return ids.every((id) => seen.has(id));
  }, timeoutMs, 500);
  return checkCallbacks(receiver.received, new Map(ids.map((id) => [id, { secret, status }])));
}
