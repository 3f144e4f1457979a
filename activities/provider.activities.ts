import { Context } from '@temporalio/activity';
import { Readable } from 'node:stream';
import { decodeDataUri } from '../src/net/data-uri';
import { AssetTooLargeError } from '../src/storage/asset-store';
import { INVALIDATION_CHANNEL, ROUTES_CHANGED } from '../src/cache/invalidation';
import { listCandidates } from '../src/routing/candidates';
import { loadChannelAccess, splitSettings, type GatewayChannelSettings } from '../src/routing/channel-access';
import { createCircuitBreaker } from '../src/routing/circuit-breaker';
import { pickWeighted } from '../src/routing/pick-channel';
import { ProviderError, type ChannelAccess, type JobRef, type MediaProvider, type MediaRequest, type ProviderErrorInfo, type ProviderJob } from '../src/providers/types';
import { newId } from '../src/ids';
import { providerCallbackUrl } from '../src/providers/callback-url';
import { basePollInterval, MAX_POLL_ERRORS, nextPollInterval } from '../src/providers/job-poller/poll-policy';
import { createPollStore } from '../src/providers/job-poller/poll-store';
import type { CallbackWait, ChannelPick, FinishedJob, JobHandle, MediaKind, MediaTaskRequest } from '../workflows/types';
import type { ActivityDeps } from './deps';
import { withHeartbeat } from './heartbeat';
import { createProgressWriter } from './progress-writer';
import { providerFailure, toAttemptFailure } from './provider-failure';

/** What every provider activity needs to address one job. */
interface JobInput {
  taskId: string;
  channelId: string;
  kind: MediaKind;
  upstreamModel: string;
  request: MediaTaskRequest;
}

/** With callbacks on, the backstop poll's interval unless the channel sets `callbackBackstopPollMs`. */
const CALLBACK_BACKSTOP_POLL_MS = 30_000;
/**
 * With the shared poller, the workflow's own backstop read unless the channel sets
 * `callbackBackstopPollMs`: the poller reads the job every second or so, and another worker's poller
 * takes over a dead one's jobs within its lease, so this read only matters if no poller of the queue
 * works at all. Longer than a callback channel's, so a job of a minute or two costs no extra read.
 */
const POLLER_BACKSTOP_MS = 120_000;

export function createProviderActivities(deps: ActivityDeps) {
  const random = deps.random ?? Math.random;
  const breaker = createCircuitBreaker(() => deps.orm.em.getKnex());
  const progress = createProgressWriter(deps);
  const polls = createPollStore(() => deps.orm.em.getKnex());

  function toMediaRequest(input: JobInput): MediaRequest {
    return { kind: input.kind, model: input.upstreamModel, ...input.request };
  }

  function jobRef(input: JobInput, job: JobHandle): JobRef {
    return { jobId: job.jobId, handles: job.handles, request: toMediaRequest(input) };
  }

  /**
   * Outputs the provider returned inline (base64, `data:` URIs) are stored now, under the asset cap, so
   * only a key crosses into history; a too large one fails the attempt for good (the task is refunded).
   */
  async function stageOutputs(taskId: string, attempt: number, job: ProviderJob): Promise<FinishedJob['outputs']> {
    const staged: FinishedJob['outputs'] = [];
    for (const [index, output] of job.outputs.entries()) {
      let inline: Buffer | undefined;
      try {
        inline = output.base64 !== undefined ? Buffer.from(output.base64, 'base64') : output.url ? decodeDataUri(output.url, deps.maxAssetBytes) : undefined;
        if (inline === undefined) {
          staged.push({ url: output.url, contentType: output.contentType });
          continue;
        }
        const key = `staging/${taskId}/${attempt}-${index}`;
        await deps.store.put(key, Readable.from([inline]), { maxBytes: deps.maxAssetBytes });
        staged.push({ stagedAssetKey: key, contentType: output.contentType });
      } catch (error) {
        if (!(error instanceof AssetTooLargeError)) throw error;
        const message = `Output ${index} is too large: ${error.message}`;
        throw providerFailure(new ProviderError({ code: 'output_too_large', retryable: false, message }));
      }
    }
    return staged;
  }

  async function finished(taskId: string, attempt: number, job: ProviderJob): Promise<FinishedJob> {
    const handle: JobHandle = { jobId: job.jobId, ...(job.handles ? { handles: job.handles } : {}) };
    if (job.status === 'succeeded') {
      return { status: 'succeeded', job: handle, outputs: await stageOutputs(taskId, attempt, job), usage: job.usage };
    }
    return {
      status: job.status === 'cancelled' ? 'cancelled' : 'failed',
      job: handle,
      outputs: [],
      error: job.error
        ? toAttemptFailure(job.error)
        : { code: job.status === 'cancelled' ? 'job_cancelled' : 'job_failed', message: `The provider reported the job ${job.status}`, retryable: job.status === 'cancelled' },
    };
  }

  const isFinal = (status: string) => status === 'succeeded' || status === 'failed' || status === 'cancelled';

  return {
    /**
     * Chooses the channel for the next attempt: enabled channels of the model and group whose provider
     * serves this kind; channels this task has not tried yet first, then any but `avoidChannelId` (the one
     * that just failed), then whatever is left; the highest priority tier, weighted inside it. Marks the
     * task queued on it.
     */
    async pickChannel(input: { taskId: string; model: string; kind: MediaKind; group: string; avoidChannelId: string | null; triedChannelIds?: string[] }): Promise<ChannelPick | null> {
      const em = deps.orm.em.fork();
      const all = (await listCandidates(em, input.model, input.group)).filter(
        (c) => deps.providers.has(c.provider) && deps.providers.get(c.provider).kinds.includes(input.kind),
      );
      const open = await breaker.openChannels(all.map((c) => c.id));
      const closed = all.filter((c) => !open.has(c.id));
      // Every circuit open: probe the one whose cool-down ends first rather than fail the task.
      const healthy = closed.length > 0 ? closed : [...all].sort((a, b) => open.get(a.id)!.getTime() - open.get(b.id)!.getTime()).slice(0, 1);
      // A channel that already failed this task goes to the back of the line: the next candidate is one
      // not asked yet (a higher-priority channel that answered 429 would otherwise be slept on).
      const tried = new Set(input.triedChannelIds ?? []);
      const untried = healthy.filter((c) => !tried.has(c.id));
      const others = healthy.filter((c) => c.id !== input.avoidChannelId);
      const pick = pickWeighted(untried.length > 0 ? untried : others.length > 0 ? others : healthy, random);
      if (!pick) return null;
      await em.getConnection().execute(
        `update tasks set status = case when status = 'pending' then 'queued' else status end, channel_id = ?, updated_at = now()
         where id = ? and status not in ('succeeded', 'failed', 'cancelled')`,
        [pick.id, input.taskId],
      );
      const pollIntervalMs = basePollInterval(pick.provider, splitSettings(pick.settings).gateway);
      return { channelId: pick.id, provider: pick.provider, upstreamModel: pick.upstreamModel, pollIntervalMs };
    },

    /**
     * Starts one provider job. A provider failure becomes a non-retryable ApplicationFailure carrying the
     * classified error; a refused credential also disables the channel so no other task wastes time on it.
     */
    async submitToProvider(input: JobInput & { attempt: number }): Promise<{ job: JobHandle; finished?: FinishedJob; callbacks?: CallbackWait }> {
      const em = deps.orm.em.fork();
      const { provider: providerId, access, gateway } = await loadChannelAccess(em, deps.box, input.channelId);
      const provider = deps.providers.get(providerId);
      // A callback is asked for when the adapter can read one, the channel did not turn them off, and
      // providers can reach us. The URL (its token) never leaves this activity.
      const callbacks = Boolean(provider.readCallback && deps.providerCallbacks && gateway.callbacks !== false);
      const callbackUrl = callbacks
        ? providerCallbackUrl(deps.publicUrl, deps.box, { taskId: input.taskId, attempt: input.attempt, channelId: input.channelId })
        : undefined;
      let job: ProviderJob;
      try {
        job = await withHeartbeat(() => provider.submit(access, toMediaRequest(input), { taskId: input.taskId, attempt: input.attempt, ...(callbackUrl ? { callbackUrl } : {}) }));
      } catch (error) {
        if (!(error instanceof ProviderError)) throw error;
        await recordAttempt(input.taskId, { channelId: input.channelId, outcome: 'failed', code: error.code });
        if (error.retryable) await channelFailed(input.channelId, error.code, gateway);
        if (error.code === 'upstream_auth_failed') await disableChannel(input.channelId);
        throw providerFailure(error);
      }
      await em.getConnection().execute(
        `update tasks set provider_job_id = ?, channel_id = ?, status = 'processing', updated_at = now(),
           progress = coalesce(?, progress)
         where id = ? and status not in ('succeeded', 'failed', 'cancelled')`,
        [job.jobId, input.channelId, job.progress, input.taskId],
      );
      await recordAttempt(input.taskId, { channelId: input.channelId, jobId: job.jobId, outcome: 'submitted' });
      const handle: JobHandle = { jobId: job.jobId, ...(job.handles ? { handles: job.handles } : {}) };
      if (isFinal(job.status)) {
        const result = await finished(input.taskId, input.attempt, job);
        await jobEnded(input.channelId, result, gateway);
        return { job: handle, finished: result };
      }
      if (callbacks) return { job: handle, callbacks: { backstopMs: gateway.callbackBackstopPollMs ?? CALLBACK_BACKSTOP_POLL_MS } };
      if (deps.providerPoller !== 'shared') return { job: handle };
      // The shared poller reads the job from now on and signals the workflow, which waits as for a
      // callback: no activity holds a slot while the job runs.
      const baseIntervalMs = basePollInterval(providerId, gateway);
      await polls.register({
        taskId: input.taskId, attempt: input.attempt, queue: Context.current().info.taskQueue, channelId: input.channelId,
        job: handle, request: toMediaRequest(input), baseIntervalMs, intervalMs: nextPollInterval(baseIntervalMs, baseIntervalMs), firstReadInMs: baseIntervalMs,
      });
      return { job: handle, callbacks: { backstopMs: gateway.callbackBackstopPollMs ?? POLLER_BACKSTOP_MS } };
    },

    /**
     * Polls the provider until the job ends (less often as it runs long), heartbeating every round (so a
     * dead worker is replaced quickly and cancellation reaches us) and handing progress to the batched
     * progress writer. A few failed polls in a row are tolerated; more end the attempt as a retryable
     * infrastructure failure. Used with PROVIDER_POLLER=activity, by workflows that waited this way before
     * the shared poller, and to follow a job whose cancel the provider only acknowledged.
     */
    async waitForProvider(input: JobInput & { job: JobHandle; pollIntervalMs: number }): Promise<FinishedJob> {
      const context = Context.current();
      const em = deps.orm.em.fork();
      const { provider: providerId, access, gateway } = await loadChannelAccess(em, deps.box, input.channelId);
      const provider = deps.providers.get(providerId);
      const ref = jobRef(input, input.job);
      let lastProgress: number | null = null;
      let pollErrors = 0;
      let interval = input.pollIntervalMs;
      for (;;) {
        context.heartbeat({ jobId: input.job.jobId });
        const read = await readOnce(input, provider, access, gateway, ref, context.info.attempt, pollErrors);
        if (read.finished) return read.finished;
        pollErrors = read.pollErrors;
        if (read.progress !== undefined && read.progress !== lastProgress) {
          lastProgress = read.progress;
          progress.set(input.taskId, read.progress);
        }
        await context.sleep(interval);
        interval = nextPollInterval(interval, input.pollIntervalMs);
      }
    },

    /**
     * One read of the job's state, when a provider callback or the shared poller woke the workflow, or
     * the backstop read came due. The workflow carries the count of failed reads in a row, and the shared
     * poller its own (it wakes the workflow for the read that would end the attempt): the same limit as
     * waitForProvider's ends the attempt. A job that ended is no longer polled.
     */
    async readProviderJob(input: JobInput & { job: JobHandle; pollErrors: number }): Promise<{ finished?: FinishedJob; pollErrors: number }> {
      const em = deps.orm.em.fork();
      const { provider: providerId, access, gateway } = await loadChannelAccess(em, deps.box, input.channelId);
      const provider = deps.providers.get(providerId);
      const attempt = Context.current().info.attempt;
      const poller = await polls.pollerView(input.taskId, input.job.jobId);
      const pollErrors = Math.max(input.pollErrors, poller.pollErrors);
      const read = await withHeartbeat(() => readOnce(input, provider, access, gateway, jobRef(input, input.job), attempt, pollErrors, poller.endingError));
      if (read.progress !== undefined) progress.set(input.taskId, read.progress);
      await polls.afterWorkflowRead(input.taskId, input.job.jobId, { ended: read.finished !== undefined, pollErrors: read.pollErrors });
      return { ...(read.finished ? { finished: read.finished } : {}), pollErrors: read.pollErrors };
    },

    /** Cancels the provider job where the protocol allows; never fails the caller. */
    async cancelProviderJob(input: JobInput & { job: JobHandle }): Promise<{ outcome: string }> {
      const em = deps.orm.em.fork();
      const { provider: providerId, access } = await loadChannelAccess(em, deps.box, input.channelId);
      const provider = deps.providers.get(providerId);
      if (!provider.cancel) return { outcome: 'not_cancellable' };
      try {
        const cancel = provider.cancel.bind(provider);
        return { outcome: await withHeartbeat(() => cancel(access, jobRef(input, input.job))) };
      } catch (error) {
        deps.log.warn({ taskId: input.taskId, channelId: input.channelId, err: error instanceof ProviderError ? error.message : String(error) }, 'provider cancel failed');
        return { outcome: 'cancel_failed' };
      }
    },
  };

  /**
   * Asks the provider once: the job's end (classified, outputs staged), or its progress and the count of
   * failed reads in a row. A few failed reads are tolerated; more, or a final error, end the attempt.
   * `seen` is a failed read the shared poller already made: it is classified instead of asking again.
   */
  async function readOnce(
    input: JobInput & { job: JobHandle },
    provider: MediaProvider,
    access: ChannelAccess,
    gateway: GatewayChannelSettings,
    ref: JobRef,
    activityAttempt: number,
    pollErrors: number,
    seen?: ProviderErrorInfo,
  ): Promise<{ finished?: FinishedJob; progress?: number | null; pollErrors: number }> {
    try {
      if (seen) throw new ProviderError(seen);
      const job = await provider.status(access, ref);
      if (isFinal(job.status)) {
        progress.drop(input.taskId);
        const result = await finished(input.taskId, activityAttempt, job);
        await jobEnded(input.channelId, result, gateway);
        return { finished: result, pollErrors: 0 };
      }
      return { progress: job.progress, pollErrors: 0 };
    } catch (error) {
      if (!(error instanceof ProviderError)) throw error;
      const errorsInRow = pollErrors + 1;
      if (error.retryable && errorsInRow < MAX_POLL_ERRORS) return { pollErrors: errorsInRow };
      if (error.retryable) await channelFailed(input.channelId, error.code, gateway);
      // A key revoked while the job runs is as dead as one refused at submit.
      if (error.code === 'upstream_auth_failed') await disableChannel(input.channelId);
      return { finished: { status: 'failed', job: input.job, outputs: [], error: toAttemptFailure(error.toInfo()) }, pollErrors: errorsInRow };
    }
  }

  /** Counts a retryable provider failure and moves the channel's circuit towards open. */
  async function channelFailed(channelId: string, code: string, gateway: { circuitThreshold?: number; circuitCooldownMs?: number }): Promise<void> {
    deps.metrics?.channelFailures.inc({ channel: channelId, code });
    await breaker.recordFailure(channelId, code, circuitOptions(gateway));
  }

  /**
   * A finished job is what tells whether the channel works: an accepted submit is not enough, or a channel
   * whose every job dies mid-render would reset its circuit at each submit and never open it.
   */
  async function jobEnded(channelId: string, result: FinishedJob, gateway: { circuitThreshold?: number; circuitCooldownMs?: number }): Promise<void> {
    if (result.error?.retryable) await channelFailed(channelId, result.error.code, gateway);
    else await breaker.recordSuccess(channelId);
  }

  /** Takes a channel whose credential the provider refused out of routing until an operator re-enables it. */
  async function disableChannel(channelId: string): Promise<void> {
    await deps.orm.em.getConnection().execute(
      `update channels set enabled = false, disabled_reason = ?, updated_at = now() where id = ?`,
      ['The provider refused the channel credential', channelId],
    );
    // Every API process drops its cached routes at once (their TTL would otherwise keep the channel a while).
    await deps.orm.em.getConnection().execute(`select pg_notify(?, ?)`, [INVALIDATION_CHANNEL, JSON.stringify(ROUTES_CHANGED)]);
  }

  function circuitOptions(gateway: { circuitThreshold?: number; circuitCooldownMs?: number }) {
    return { threshold: gateway.circuitThreshold, cooldownMs: gateway.circuitCooldownMs };
  }

  async function recordAttempt(taskId: string, attempt: { channelId: string; jobId?: string; outcome: string; code?: string }): Promise<void> {
    await deps.orm.em.getConnection().execute(
      `update tasks set attempts = attempts || ?::jsonb, updated_at = now() where id = ?`,
      [JSON.stringify([{ ...attempt, at: new Date().toISOString(), id: newId('att') }]), taskId],
    );
  }
}
