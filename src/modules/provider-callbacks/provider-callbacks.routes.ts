import Router from '@koa/router';
import { NotFoundError, type EntityManager } from '@mikro-orm/postgresql';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { AppError, errors } from '../../http/errors';
import { readRawBody } from '../../http/middleware';
import { callbackTokenValid, PROVIDER_CALLBACK_ROUTE } from '../../providers/callback-url';
import type { ProviderRegistry } from '../../providers/registry';
import { ProviderError, type ProviderCallbackResult } from '../../providers/types';
import { loadChannelAccess } from '../../routing/channel-access';
import type { SecretBox } from '../../security/secrets';
import { providerUpdateSignal } from '../../../workflows/messages';

/** Ids are ours (`task_...`, `ch_...`): anything longer or stranger is refused before any work. */
const ID = /^[A-Za-z0-9_-]{1,64}$/;
const FINAL = new Set(['succeeded', 'failed', 'cancelled']);

/**
 * POST /v1/provider-callbacks/{task_id}/{attempt}/{channel_id}/{token}: where providers call back about
 * one job. No API key (providers call it); our HMAC token for that task, attempt and channel is checked
 * first, in constant time and without touching the database, so a forgery is cheap to refuse (404, as
 * for a URL that does not exist). Then the adapter reads the callback (the provider's own signature where
 * it has one: 400 when it fails), a handshake is answered, and news of the job signals the task's
 * workflow, which reads the job's state from the provider once. The callback's body never decides a
 * state or an amount, so a replayed or late one changes nothing; one for a finished task, an earlier
 * attempt is answered 200 and ignored (the provider need not retry it).
 */
/** Largest provider callback body read (a job's final state, its output URLs included). */
const MAX_CALLBACK_BYTES = 1024 * 1024;

export function providerCallbackRoutes(deps: {
  em: (ctx: { state: unknown }) => EntityManager;
  box: SecretBox;
  temporal: Client;
  providers: ProviderRegistry;
}): Router {
  const router = new Router();
  router.post(PROVIDER_CALLBACK_ROUTE, async (ctx) => {
    const { taskId = '', channelId = '', token = '' } = ctx.params;
    const attempt = Number(ctx.params.attempt);
    const wellFormed = ID.test(taskId) && ID.test(channelId) && Number.isInteger(attempt) && attempt >= 1 && attempt <= 1000;
    if (!wellFormed || !callbackTokenValid(deps.box, { taskId, attempt, channelId }, token)) {
      throw errors.notFound('not_found', 'No such callback URL');
    }
    const em = deps.em(ctx);
    // A channel deleted since the submit is a URL that no longer exists; a database fault is not (503, retried).
    const channel = await loadChannelAccess(em, deps.box, channelId).catch((error: unknown) => {
      if (error instanceof NotFoundError) return null;
      throw error;
    });
    const provider = channel && deps.providers.has(channel.provider) ? deps.providers.get(channel.provider) : undefined;
    if (!channel || !provider?.readCallback) throw errors.notFound('not_found', 'No such callback URL');

    // Read only now: this route sits before authentication, so a forged URL never gets its body read.
    const rawBody = await readRawBody(ctx, MAX_CALLBACK_BYTES);
    let result: ProviderCallbackResult;
    try {
      result = provider.readCallback(channel.access, { headers: headersOf(ctx.headers), rawBody });
    } catch (error) {
      const message = error instanceof ProviderError ? error.message : 'The callback could not be read';
      throw new AppError(400, 'invalid_callback', message, 'invalid_request_error');
    }
    if (result.kind === 'challenge') {
      ctx.body = result.reply;
      return;
    }
    ctx.body = { received: true, action: await wake(em, taskId, attempt) };
  });

  /**
   * Signals the task's workflow unless the task is finished. The workflow drops a signal for another
   * attempt than its current one (the callback may beat the submit's bookkeeping, so the job id on the
   * task row is no test).
   */
  async function wake(em: EntityManager, taskId: string, attempt: number): Promise<'read_scheduled' | 'ignored'> {
    const [task] = await em.getConnection().execute<{ status: string }[]>('select status from tasks where id = ?', [taskId]);
    if (!task || FINAL.has(task.status)) return 'ignored';
    try {
      await deps.temporal.workflow.getHandle(taskId).signal(providerUpdateSignal, { attempt });
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return 'ignored';
      throw error;
    }
    return 'read_scheduled';
  }

  return router;
}

function headersOf(headers: Record<string, string | string[] | undefined>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  return out;
}
