import pino from 'pino';
import type Koa from 'koa';
import { bindLog, loggablePath, requestContext, type RequestState } from '../../src/http/middleware';

/** A logger writing JSON lines into an array, and a counter of the child loggers it made. */
function capture(level: string) {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  let children = 0;
  const child = log.child;
  // Children inherit this from their parent, so a child's child is counted (and made) the same way.
  log.child = function (this: pino.Logger, ...args: Parameters<typeof child>) {
    children += 1;
    return child.apply(this, args);
  } as typeof log.child;
  return { log, lines, children: () => children };
}

function fakeCtx(): Koa.Context {
  const headers = new Map<string, string>();
  return {
    state: {}, method: 'POST', path: '/v1/chat/completions', status: 200,
    get: () => '', set: (name: string, value: string) => headers.set(name, value),
  } as unknown as Koa.Context;
}

describe('request log', () => {
  it('makes no child logger for a request that logs nothing below the request line', async () => {
    const { log, lines, children } = capture('warn');
    const ctx = fakeCtx();
    await requestContext(log)(ctx, async () => bindLog(ctx.state as RequestState, { keyId: 'key_1' }));
    expect(children()).toBe(0);
    expect(lines).toHaveLength(0);
  });

  it('carries the request id and the later bindings on every line, the request line included', async () => {
    const { log, lines, children } = capture('info');
    const ctx = fakeCtx();
    await requestContext(log)(ctx, async () => {
      const state = ctx.state as RequestState;
      bindLog(state, { keyId: 'key_1', accountId: 'acct_1' });
      state.log.warn('inside');
      bindLog(state, { ref: 'chat_1' });
      state.log.warn('later');
    });
    const requestId = (ctx.state as RequestState).requestId;
    expect(lines).toEqual([
      expect.objectContaining({ msg: 'inside', requestId, keyId: 'key_1', accountId: 'acct_1' }),
      expect.objectContaining({ msg: 'later', requestId, keyId: 'key_1', ref: 'chat_1' }),
      expect.objectContaining({ msg: 'request', requestId, keyId: 'key_1', status: 200 }),
    ]);
    expect(children()).toBe(2);
  });
});

describe('loggablePath', () => {
  it('blanks the per-job token of a provider callback URL and leaves other paths alone', () => {
    expect(loggablePath('/v1/provider-callbacks/task_abc/1/ch_x/s3cr3t-token_value')).toBe('/v1/provider-callbacks/task_abc/1/ch_x/[token]');
    expect(loggablePath('/v1/tasks/task_abc')).toBe('/v1/tasks/task_abc');
  });
});
