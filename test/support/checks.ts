import type { TestGateway } from './harness';

/** An HTTP answer as TestGateway.request returns it. */
export interface Answer {
  status: number;
  body: any;
  headers: Headers;
}

/**
 * Asserts an error answer in the brief's exact format: JSON `{error: {message, type, code}}` with a
 * non-empty message, and nothing else at the top level. Extra members inside `error` (param, details)
 * are allowed: API.md welcomes additions.
 */
export function expectApiError(answer: Answer, status: number, code: string, type?: string): void {
  const context = `${status} ${code}, got ${answer.status} ${JSON.stringify(answer.body)}`;
  expect({ status: answer.status, context }).toEqual({ status, context });
  expect(answer.headers.get('content-type') ?? '').toMatch(/^application\/json/);
  expect(answer.body).not.toBeNull();
  expect(typeof answer.body).toBe('object');
  expect(Object.keys(answer.body)).toEqual(['error']);
  const error = answer.body.error;
  expect(typeof error.message).toBe('string');
  expect(error.message.length).toBeGreaterThan(0);
  expect(typeof error.type).toBe('string');
  expect(typeof error.code).toBe('string');
  expect(error.code).toBe(code);
  if (type) expect(error.type).toBe(type);
  // Never a stack trace in a message.
  expect(error.message).not.toMatch(/\n\s+at /);
}

/** The account as the admin API shows it. */
export async function accountOf(gw: TestGateway, accountId: string): Promise<{ balance: number; reserved: number }> {
  return gw.admin('GET', `/admin/accounts/${accountId}`);
}

/** Runs one SQL statement on the gateway's database and returns its rows. */
export async function sql<T = Record<string, unknown>>(gw: TestGateway, query: string, params: unknown[] = []): Promise<T[]> {
  return gw.gateway.orm.em.fork().getConnection().execute<T[]>(query, params);
}

/** How many task rows the account has. */
export async function taskRowCount(gw: TestGateway, accountId: string): Promise<number> {
  const rows = await sql<{ count: string | number }>(gw, 'select count(*) as count from tasks where account_id = ?', [accountId]);
  return Number(rows[0]?.count ?? 0);
}

/** Polls `probe` until it returns something truthy, or throws with `what` after `timeoutMs`. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 10_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what} did not happen within ${timeoutMs} ms${lastError ? `; last error: ${String(lastError)}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
