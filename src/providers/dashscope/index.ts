/**
 * `dashscope` adapter (Alibaba Model Studio / DashScope: Wan video and image), the asynchronous protocol:
 * `POST /services/aigc/video-generation/video-synthesis` or `.../text2image/image-synthesis` with
 * `X-DashScope-Async: enable` (DashScope refuses these models synchronously), poll `GET /tasks/{id}`,
 * cancel with `POST /tasks/{id}/cancel` (PENDING only). Plain HTTP against `channel.baseUrl` (the region's
 * `.../api/v1`); never retries.
 */
import { cancelWhileQueued } from '../cancel-queued';
import { badResponse, bearerCalls, parseBody, sendOk, type HttpCall } from '../http';
import {
  ProviderError,
  type CancelOutcome,
  type ChannelAccess,
  type JobRef,
  type MediaProvider,
  type MediaRequest,
  type ProviderJob,
} from '../types';
import { CreatedTask, DashScopeSettings, DashScopeTask } from './dto';
import { isArrearage, readDashScopeError } from './errors';
import { DASHSCOPE_PRICED_KEYS, IMAGE_PATH, VIDEO_PATH, imageBody, taskJob, videoBody } from './mapping';

const PROVIDER = 'dashscope';

export { DashScopeSettings } from './dto';

/** Creates the `dashscope` media provider (video, image). */
export function createDashScopeProvider(): MediaProvider {
  const call = bearerCalls(PROVIDER, DashScopeSettings, (settings, hasBody) => ({
    ...(hasBody ? { 'x-dashscope-async': 'enable' } : {}),
    ...(settings.workspace ? { 'x-dashscope-workspace': settings.workspace } : {}),
  }));

  /** sendOk, with `Arrearage` (an overdue account, answered as HTTP 400) told apart from a bad request. */
  async function ok(c: HttpCall, notFoundCode?: string) {
    try {
      return await sendOk(c, readDashScopeError, notFoundCode ? { notFoundCode } : {});
    } catch (err) {
      if (err instanceof ProviderError && isArrearage(err.providerCode)) {
        throw new ProviderError({ ...err.toInfo(), code: 'upstream_insufficient_balance', retryable: false });
      }
      throw err;
    }
  }

  async function fetchTask(channel: ChannelAccess, job: JobRef, operation: string): Promise<ProviderJob> {
    const c = call(channel, operation, 'GET', `tasks/${encodeURIComponent(job.jobId)}`);
    const reply = await ok(c, 'not_found');
    const task = parseBody(c, reply, DashScopeTask);
    const mapped = taskJob(task, job.request, c.secrets);
    if (!mapped) throw badResponse(c, `unknown task_status "${task.output.task_status}"`, reply.status);
    return mapped;
  }

  async function submit(channel: ChannelAccess, request: MediaRequest): Promise<ProviderJob> {
    if (request.kind !== 'video' && request.kind !== 'image') {
      throw new ProviderError({ code: 'invalid_request', retryable: false, message: `dashscope does not serve ${request.kind}` });
    }
    const c =
      request.kind === 'video'
        ? call(channel, 'submit', 'POST', VIDEO_PATH, videoBody(request))
        : call(channel, 'submit', 'POST', IMAGE_PATH, imageBody(request));
    const reply = await ok(c);
    const created = parseBody(c, reply, CreatedTask);
    return { jobId: created.output.task_id, status: 'queued', progress: null, outputs: [] };
  }

  async function status(channel: ChannelAccess, job: JobRef): Promise<ProviderJob> {
    return fetchTask(channel, job, 'status');
  }

  /**
   * DashScope cancels only a PENDING task, so the task is read first: PENDING → cancel → `cancelled`;
   * RUNNING → `not_cancellable` (no call); final → `already_finished`. If the task starts between the read
   * and the cancel, DashScope refuses it and the task is read again.
   */
  async function cancel(channel: ChannelAccess, job: JobRef): Promise<CancelOutcome> {
    return cancelWhileQueued({
      read: () => fetchTask(channel, job, 'cancel'),
      send: () => ok(call(channel, 'cancel', 'POST', `tasks/${encodeURIComponent(job.jobId)}/cancel`), 'not_found'),
      refusedStatuses: [400],
    });
  }

  return {
    id: PROVIDER,
    kinds: ['video', 'image'],
    pricedKeys: DASHSCOPE_PRICED_KEYS,
    deliveredFrom: 'video: `usage.video_duration` (seconds made); images: the `results` that carry a URL',
    submit,
    status,
    cancel,
  };
}
