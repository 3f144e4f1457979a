/**
 * `runway` adapter (Runway API, `https://api.dev.runwayml.com/v1`): `POST /image_to_video`, `/text_to_video`
 * or `/text_to_image` → `{id}`, poll `GET /tasks/{id}`, `DELETE /tasks/{id}` cancels a waiting or running
 * task (and deletes a finished one, so it is only sent before the end). `Authorization: Bearer <key>` and
 * the `X-Runway-Version` header from the channel settings; never retries.
 */
import { badResponse, bearerCalls, parseBody, sendOk } from '../http';
import type { CancelOutcome, ChannelAccess, JobRef, MediaProvider, MediaRequest, ProviderJob } from '../types';
import { CreatedTask, RunwaySettings, RunwayTask } from './dto';
import { readRunwayError } from './errors';
import { RUNWAY_PRICED_KEYS, createBody, taskJob } from './mapping';

const PROVIDER = 'runway';

export { RunwaySettings } from './dto';

/** Creates the `runway` media provider (video, image). */
export function createRunwayProvider(): MediaProvider {
  const call = bearerCalls(PROVIDER, RunwaySettings, (settings) => ({ 'x-runway-version': settings.apiVersion }));

  async function fetchTask(channel: ChannelAccess, job: JobRef, operation: string): Promise<ProviderJob> {
    const c = call(channel, operation, 'GET', `tasks/${encodeURIComponent(job.jobId)}`);
    const reply = await sendOk(c, readRunwayError, { notFoundCode: 'not_found' });
    const task = parseBody(c, reply, RunwayTask);
    const mapped = taskJob(task, job.request, c.secrets);
    if (!mapped) throw badResponse(c, `unknown task status "${task.status}"`, reply.status);
    return mapped;
  }

  async function submit(channel: ChannelAccess, request: MediaRequest): Promise<ProviderJob> {
    const { path, body } = createBody(request);
    const c = call(channel, 'submit', 'POST', path, body);
    const reply = await sendOk(c, readRunwayError);
    const created = parseBody(c, reply, CreatedTask);
    return { jobId: created.id, status: 'queued', progress: null, outputs: [] };
  }

  /**
   * DELETE cancels a PENDING, THROTTLED or RUNNING task but deletes a finished one for good (its outputs
   * become unreachable), so the task is read first and a final one is left alone.
   */
  async function cancel(channel: ChannelAccess, job: JobRef): Promise<CancelOutcome> {
    const before = await fetchTask(channel, job, 'cancel');
    if (before.status !== 'queued' && before.status !== 'processing') return 'already_finished';
    await sendOk(call(channel, 'cancel', 'DELETE', `tasks/${encodeURIComponent(job.jobId)}`), readRunwayError, { notFoundCode: 'not_found' });
    return 'cancelled';
  }

  return {
    id: PROVIDER,
    kinds: ['video', 'image'],
    pricedKeys: RUNWAY_PRICED_KEYS,
    deliveredFrom: 'the requested `duration` (a Runway task does not report the length made; Runway bills what was asked) and the `output` URLs for images',
    submit,
    status: (channel, job) => fetchTask(channel, job, 'status'),
    cancel,
  };
}
