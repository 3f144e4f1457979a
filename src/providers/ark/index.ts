/**
 * `ark` adapter (BytePlus ModelArk / Volcengine Ark content generation, e.g. Seedance video):
 * `POST /contents/generations/tasks`, poll `GET .../tasks/{id}`, cancel with `DELETE .../tasks/{id}` while
 * queued. Plain HTTP against `channel.baseUrl` (`.../api/v3`); never retries.
 */
import { cancelWhileQueued } from '../cancel-queued';
import { badResponse, bearerCalls, parseBody, sendOk } from '../http';
import {
  ProviderError,
  type CancelOutcome,
  type ChannelAccess,
  type JobRef,
  type MediaProvider,
  type MediaRequest,
  type ProviderJob,
} from '../types';
import { ArkSettings, ArkTask, CreatedTask } from './dto';
import { readArkError } from './errors';
import { ARK_PRICED_KEYS, taskBody, taskJob } from './mapping';

const PROVIDER = 'ark';
const TASKS = 'contents/generations/tasks';
/** Statuses with which Ark may refuse a DELETE whose task is no longer queued. */
const REFUSED = [400, 404, 409, 422];

export { ArkSettings } from './dto';

/** Creates the `ark` media provider (video). */
export function createArkProvider(): MediaProvider {
  const call = bearerCalls(PROVIDER, ArkSettings);

  async function fetchTask(channel: ChannelAccess, job: JobRef, operation: string): Promise<ProviderJob> {
    const c = call(channel, operation, 'GET', `${TASKS}/${encodeURIComponent(job.jobId)}`);
    const reply = await sendOk(c, readArkError, { notFoundCode: 'not_found' });
    const task = parseBody(c, reply, ArkTask);
    const mapped = taskJob(task, job.request, c.secrets);
    if (!mapped) throw badResponse(c, `unknown task status "${task.status}"`, reply.status);
    return mapped;
  }

  async function submit(channel: ChannelAccess, request: MediaRequest): Promise<ProviderJob> {
    if (request.kind !== 'video') {
      throw new ProviderError({ code: 'invalid_request', retryable: false, message: `ark does not serve ${request.kind}` });
    }
    const c = call(channel, 'submit', 'POST', TASKS, taskBody(request));
    const reply = await sendOk(c, readArkError);
    const created = parseBody(c, reply, CreatedTask);
    return { jobId: created.id, status: 'queued', progress: null, outputs: [] };
  }

  async function status(channel: ChannelAccess, job: JobRef): Promise<ProviderJob> {
    return fetchTask(channel, job, 'status');
  }

  /**
   * Ark's DELETE cancels a queued task but deletes the record of a finished one, so the task is read first:
   * queued → DELETE → `cancelled`; running → `not_cancellable`; final → `already_finished` (no DELETE).
   * If the task starts between the read and the DELETE, Ark refuses and the task is read again.
   */
  async function cancel(channel: ChannelAccess, job: JobRef): Promise<CancelOutcome> {
    return cancelWhileQueued({
      read: () => fetchTask(channel, job, 'cancel'),
      send: () => sendOk(call(channel, 'cancel', 'DELETE', `${TASKS}/${encodeURIComponent(job.jobId)}`), readArkError, { notFoundCode: 'not_found' }),
      refusedStatuses: REFUSED,
    });
  }

  return {
    id: PROVIDER,
    kinds: ['video'],
    pricedKeys: ARK_PRICED_KEYS,
    deliveredFrom: 'the task\'s `duration` (seconds made)',
    submit,
    status,
    cancel,
  };
}
