import Router from '@koa/router';
import type Koa from 'koa';
import { authOf } from '../../http/auth';
import { assertTokensLeft } from '../../http/rate-limit';
import type { SharedLimits } from '../../limits/shared-buckets';
import type { RequestState } from '../../http/middleware';
import { parseBody } from '../../http/validate';
import type { CreditLeases } from '../../billing/credit-lease';
import type { RouteCache } from '../../routing/route-cache';
import { ChatCompletionBody, EmbeddingsBody } from './chat.schemas';
import { createChatService, type CallContext, type EventSink, type ProxyResult } from './chat.service';

/** POST /v1/chat/completions and POST /v1/embeddings: the synchronous OpenAI-compatible proxy. */
export function chatRoutes(deps: { leases: CreditLeases; routes: RouteCache; maxChannelAttempts: number; limits: SharedLimits; usageWaitMs?: number }): Router {
  const router = new Router();
  const chat = createChatService({ leases: deps.leases, routes: deps.routes, maxChannelAttempts: deps.maxChannelAttempts, usageWaitMs: deps.usageWaitMs });

  router.post('/v1/chat/completions', async (ctx) => {
    parseBody(ctx, ChatCompletionBody);
    const auth = authOf(ctx);
    await assertTokensLeft(deps.limits, auth);
    const { call, sink } = connect(ctx);
    const tpm = auth.tpm;
    if (tpm) call.onTokens = (tokens) => deps.limits.spend(auth.apiKeyId, 'tpm', tpm, tokens);
    // The upstream gets the client's body as sent (only `model`, and for streams `stream_options`, change).
    answer(ctx, await chat.chatCompletion(call, rawBody(ctx), sink));
  });

  router.post('/v1/embeddings', async (ctx) => {
    parseBody(ctx, EmbeddingsBody);
    const { call } = connect(ctx);
    answer(ctx, await chat.embeddings(call, rawBody(ctx)));
  });

  return router;
}

function rawBody(ctx: Koa.Context): Record<string, unknown> {
  return (ctx.state as RequestState).body as Record<string, unknown>;
}

function answer(ctx: Koa.Context, result: ProxyResult): void {
  if (result.kind === 'json') {
    ctx.status = 200;
    ctx.type = 'application/json';
    ctx.body = result.body;
  } else if (result.kind === 'gone' && !ctx.res.headersSent) {
    // Nobody is listening: say nothing.
    ctx.respond = false;
    ctx.res.destroy();
  }
}

/**
 * The request's context for the service, and an SSE sink on the raw response: the first event commits a
 * 200 with `text/event-stream` and takes the response away from Koa; every event is written at once
 * (no compression, Nagle off, `X-Accel-Buffering: no` for nginx) and waits for the socket to drain.
 */
function connect(ctx: Koa.Context): { call: CallContext; sink: EventSink } {
  const state = ctx.state as RequestState;
  const res = ctx.res;
  const gone = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) gone.abort();
  });
  let committed = false;
  const commit = () => {
    if (committed) return;
    committed = true;
    ctx.status = 200;
    ctx.respond = false;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.socket?.setNoDelay(true);
  };
  const sink: EventSink = {
    async send(block) {
      if (gone.signal.aborted || res.destroyed) return false;
      commit();
      if (!res.write(`${block}\n\n`)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      }
      return !gone.signal.aborted && !res.destroyed;
    },
    end(last) {
      if (last !== undefined && !gone.signal.aborted && !res.destroyed) {
        commit();
        // The last event and the end of the response in one write.
        res.end(`${last}\n\n`);
      } else if (committed && !res.writableEnded) res.end();
    },
  };
  const call: CallContext = {
    auth: authOf(ctx),
    // Read when something logs: the request's child logger is made on first use.
    get log() {
      return state.log;
    },
    clientSignal: gone.signal,
    startedAt: Date.now(),
  };
  return { call, sink };
}
