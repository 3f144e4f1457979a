import Koa from 'koa';
import { toCsv } from '../../console/src/csv';
import { AppError } from '../../src/http/errors';
import { consoleSessionAuth } from '../../src/modules/console/session-auth';
import { createConsoleSessions, SESSION_PREFIX } from '../../src/modules/console/sessions';

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

/** Runs the session middleware on a fake request; returns the Authorization header the next layer sees. */
async function through(sessions: ReturnType<typeof createConsoleSessions>, path: string, authorization?: string): Promise<string | undefined> {
  const req = { headers: (authorization ? { authorization } : {}) as Record<string, string> };
  const ctx = { path, req, get: (name: string) => req.headers[name] ?? '' } as unknown as Koa.Context;
  let seen: string | undefined;
  await consoleSessionAuth(sessions)(ctx, async () => {
    seen = ctx.req.headers.authorization;
  });
  return seen;
}

describe('console sessions', () => {
  it('issues unguessable tokens that resolve to their credential until they expire', () => {
    const c = clock();
    const sessions = createConsoleSessions({ ttlSeconds: 60, now: c.now });
    const a = sessions.issue('consumer', 'sk-gw-a');
    const b = sessions.issue('consumer', 'sk-gw-a');
    expect(a.token.startsWith(SESSION_PREFIX)).toBe(true);
    expect(a.token).not.toBe(b.token);
    expect(a.token.length).toBeGreaterThan(40);
    expect(a.expiresAt.getTime()).toBe(c.now() + 60_000);
    expect(sessions.resolve(a.token)).toEqual({ role: 'consumer', credential: 'sk-gw-a' });
    c.advance(59_999);
    expect(sessions.resolve(a.token)).not.toBeNull();
    c.advance(1);
    expect(sessions.resolve(a.token)).toBeNull();
    expect(sessions.resolve(`${a.token}x`)).toBeNull();
  });

  it('ends a session on sign-out and keeps at most maxSessions, dropping the oldest', () => {
    const sessions = createConsoleSessions({ ttlSeconds: 60, maxSessions: 2 });
    const first = sessions.issue('operator', 'adm');
    sessions.revoke(first.token);
    expect(sessions.resolve(first.token)).toBeNull();
    const [x, y, z] = [sessions.issue('consumer', 'x'), sessions.issue('consumer', 'y'), sessions.issue('consumer', 'z')];
    expect(sessions.size()).toBe(2);
    expect(sessions.resolve(x.token)).toBeNull();
    expect(sessions.resolve(y.token)?.credential).toBe('y');
    expect(sessions.resolve(z.token)?.credential).toBe('z');
  });

  it('stands a session in for its credential only on the paths of its role', async () => {
    const sessions = createConsoleSessions({ ttlSeconds: 60 });
    const consumer = sessions.issue('consumer', 'sk-gw-key').token;
    const operator = sessions.issue('operator', 'admin-token').token;
    await expect(through(sessions, '/v1/models', `Bearer ${consumer}`)).resolves.toBe('Bearer sk-gw-key');
    await expect(through(sessions, '/v1', `Bearer ${consumer}`)).resolves.toBe('Bearer sk-gw-key');
    await expect(through(sessions, '/admin/keys', `Bearer ${consumer}`)).resolves.toBe(`Bearer ${consumer}`);
    await expect(through(sessions, '/v1x/models', `Bearer ${consumer}`)).resolves.toBe(`Bearer ${consumer}`);
    await expect(through(sessions, '/admin/keys', `Bearer ${operator}`)).resolves.toBe('Bearer admin-token');
    await expect(through(sessions, '/v1/models', `Bearer ${operator}`)).resolves.toBe(`Bearer ${operator}`);
    // Keys and missing headers pass untouched.
    await expect(through(sessions, '/v1/models', 'Bearer sk-gw-other')).resolves.toBe('Bearer sk-gw-other');
    await expect(through(sessions, '/v1/models')).resolves.toBeUndefined();
  });

  it('refuses an unknown or expired session with 401 session_expired', async () => {
    const c = clock();
    const sessions = createConsoleSessions({ ttlSeconds: 60, now: c.now });
    const token = sessions.issue('consumer', 'sk-gw-key').token;
    c.advance(60_000);
    for (const bearer of [token, `${SESSION_PREFIX}unknown`]) {
      const error = await through(sessions, '/v1/models', `Bearer ${bearer}`).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AppError);
      expect(error).toMatchObject({ status: 401, code: 'session_expired', type: 'authentication_error' });
      expect((error as Error).message).not.toContain(bearer);
    }
  });
});

describe('console CSV export', () => {
  it('quotes what needs quoting and keeps spreadsheet formulas as text', () => {
    expect(toCsv([['date', 'model', 'credits'], ['2026-12-05', 'a,b', 3], ['x"y', 'line\nbreak', null], ['=HYPERLINK("x")', '-1', -1]])).toBe(
      'date,model,credits\r\n2026-12-05,"a,b",3\r\n"x""y","line\nbreak",\r\n"\'=HYPERLINK(""x"")",\'-1,-1\r\n',
    );
  });
});
