/**
 * mediaTaskWorkflow: one media task (image, video or music), id = task id.
 *
 * Steps, and what undoes each:
 * 1. (admission)         the API creates the task row and holds the price in one transaction before it
 *                        starts the run (`admittedByApi`)                              -> refundCredits
 *    reserveCredits      runs started by an older API reserve here instead, as a local activity answering
 *                        the admitTask update (Update-With-Start)
 * 2. pickChannel         local activity; channels not tried yet first, never the one that just failed while another exists;
 *                        highest priority first, weighted inside a tier
 * 3. submitToProvider    one provider job per attempt                                  -> cancelProviderJob
 * 4. waitForProvider     polls in one heartbeating activity (PROVIDER_POLLER=activity); history stays small
 *    (readProviderJob)   or, when the provider was asked to call back or the worker's shared poller watches
 *                        the job: one status read (a local activity in current runs) each time the
 *                        providerUpdate signal comes (the callback route or the poller sends it) or the slow
 *                        backstop poll comes due
 *    a retryable failure (at submit or in flight) goes back to 2 with the next channel
 * 5. persistAssets       copies outputs into our store before the provider's URLs expire; tried first as a
 *                        local activity (one short attempt), then queued with heartbeats and retries
 * 6. settleCredits       local activity; charges what was delivered (never above the quote), releases the
 *                        rest (non-cancellable)
 *    refundCredits       local activity; on failure, cancellation or deadline: releases everything
 *                        (non-cancellable). A cancel the provider only acknowledges (or can't honour) is
 *                        followed to the job's end first: a job that completes anyway is settled as
 *                        delivered, its outputs kept, because the provider bills us for it.
 * 7. sendCallback        Standard Webhooks POST; one local try first, then queued with its own long retry
 *                        policy (same webhook-id throughout); never changes the outcome
 *
 * The model's deadline cancels steps 2-5. Its timer starts only when the task has to wait (a provider job
 * still running after submit, a backoff, a queued asset copy): a job that finishes at submit is checked
 * against the deadline without one. An instant task is then two workflow tasks: admission through submit,
 * and the rest once the submit returns (current runs only, see `current` below; older runs replay as they ran).
 */
import {
  ActivityFailure,
  ApplicationFailure,
  TemporalFailure,
  CancellationScope,
  CancelledFailure,
  condition,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
  setCurrentDetails,
} from '@temporalio/workflow';
import type { MediaActivities } from '../activities';
import { SearchAttributes } from '../src/temporal/search-attributes';
import { admitTaskUpdate, getTaskQuery, providerUpdateSignal } from './messages';
import {
  bookkeeping,
  callbacks,
  firstTryAssets,
  firstTryCallback,
  localBookkeeping,
  providerCalls,
  providerRead,
  providerReadLocal,
  providerWait,
  reservation,
} from './activity-options';
import type {
  Admission,
  AttemptFailure,
  ChannelPick,
  FinishedJob,
  JobHandle,
  MediaTaskInput,
  MediaTaskResult,
  TaskFailure,
  TaskStatus,
} from './types';

const { reserveCredits } = proxyLocalActivities<MediaActivities>(reservation);
const { persistAssets, cancelProviderJob } = proxyActivities<MediaActivities>(bookkeeping);
const localSteps = proxyLocalActivities<MediaActivities>(localBookkeeping);
const queuedSteps = proxyActivities<MediaActivities>(bookkeeping);
const { submitToProvider } = proxyActivities<MediaActivities>(providerCalls);
const { waitForProvider } = proxyActivities<MediaActivities>(providerWait);
const { readProviderJob } = proxyActivities<MediaActivities>(providerRead);
const { readProviderJob: readProviderJobLocally } = proxyLocalActivities<MediaActivities>(providerReadLocal);
const { sendCallback } = proxyActivities<MediaActivities>(callbacks);
/** First tries inside the workflow task; see firstTryAssets in activity-options. */
const firstTry = {
  persistAssets: proxyLocalActivities<MediaActivities>(firstTryAssets).persistAssets,
  sendCallback: proxyLocalActivities<MediaActivities>(firstTryCallback).sendCallback,
};

/** Marks workflows whose channel picks and settlement run as local activities. */
const LOCAL_BOOKKEEPING_PATCH = 'local-bookkeeping';

/** Marks workflows that follow a job the provider did not stop on cancel, and settle it if it completes. */
const CANCEL_FOLLOWS_JOB_PATCH = 'cancel-follows-job';

/**
 * Marks workflows that wait on a provider callback (signal) with a slow backstop poll, instead of one long
 * polling activity, on channels whose provider was asked to call back.
 */
const PROVIDER_CALLBACKS_PATCH = 'provider-callbacks';

/**
 * Marks runs that take every current path (see `current` in the workflow): it stands for every patch above,
 * whose markers these runs no longer record. One marker per run.
 */
const CURRENT_PATCH = 'admitted-lean';

/** How long a cancelled task follows a job the provider did not stop, before refunding anyway. */
const FOLLOW_AFTER_CANCEL_MS = 30 * 60 * 1000;

/** A job that completed although the task was cancelled (or ran out of time): it is settled as delivered. */
class DeliveredDespiteCancel extends Error {
  constructor(readonly pick: ChannelPick, readonly finished: FinishedJob) {
    super('The provider completed the job although the task was cancelled');
  }
}

/** A provider attempt that ended the task for good (not worth another channel). */
class TaskFailed extends Error {
  constructor(readonly failure: TaskFailure) {
    super(failure.message);
  }
}

export async function mediaTaskWorkflow(input: MediaTaskInput): Promise<MediaTaskResult> {
  let admission: Admission | undefined;
  let status: TaskStatus | 'rejected' = 'pending';
  let currentChannel: string | null = null;
  let attempts = 0;
  /** The channels tried so far, and how many of them the Channel search attribute shows. */
  const tried: string[] = [];
  let channelsShown = 0;

  // Handlers first, before any await, so the update that came with the start is never missed.
  setHandler(admitTaskUpdate, async () => {
    await condition(() => admission !== undefined);
    return admission!;
  });
  setHandler(getTaskQuery, () => ({ status, channelId: currentChannel, attempts }));
  /** Provider callbacks received for the current attempt; one for an earlier attempt is dropped. */
  let providerNews = 0;
  setHandler(providerUpdateSignal, ({ attempt }) => {
    if (attempt === attempts) providerNews += 1;
  });

  /**
   * Which version of the steps this run takes. A run started by the current API (its input carries
   * `admittedByApi`: the API created the task row and hold before starting it) takes every current path
   * under one patch, CURRENT_PATCH, instead of one marker per older patch: each patched() call costs two
   * history events (its marker and a TemporalChangeVersion upsert). The patch, not the input alone, decides,
   * so a run that an older worker began (APIs upgraded before workers) replays on a newer worker as it ran.
   * Runs started by an older API reserve in their first step and replay the paths their markers recorded.
   *
   * Current runs also have the lean history: the deadline timer started only when the task has to wait, the
   * channel and status upserted together and only when they change what an operator can see, and the asset
   * copy, the consumer callback and a flagged job's read run as local activities (queued, with their
   * retries, if a first try of the copy or callback fails).
   */
  const current = input.admittedByApi === true && patched(CURRENT_PATCH);
  const has = (patch: string): boolean => current || patched(patch);
  const lean = current;
  // Runs started before pickChannel, settleCredits and refundCredits became local activities replay with the queued ones.
  const { pickChannel, settleCredits, refundCredits } = has(LOCAL_BOOKKEEPING_PATCH) ? localSteps : queuedSteps;

  // A current run's API reserved before starting it. Runs of an older API reserve here and answer the
  // admitTask update; so does a run an older worker began (its reservation is idempotent: the row is there).
  admission = current ? { admitted: true, taskId: input.taskId } : await reserveCredits(input);
  if (!admission.admitted) {
    status = 'rejected';
    setStatus('rejected');
    return { taskId: input.taskId, status: 'rejected' };
  }

  function setStatus(next: TaskStatus | 'rejected'): void {
    status = next;
    const channels = [...new Set(tried)];
    if (!lean || channels.length === channelsShown) {
      upsertSearchAttributes([{ key: SearchAttributes.TaskStatus, value: next }]);
      return;
    }
    channelsShown = channels.length;
    upsertSearchAttributes([
      { key: SearchAttributes.TaskStatus, value: next },
      { key: SearchAttributes.Channel, value: channels },
    ]);
  }

  const deadline = new Deadline(input.deadlineSeconds * 1000, { armNow: !lean });
  let result!: MediaTaskResult; // set by exactly one of the branches below
  try {
    result = await deadline.run(() => runOnChannels());
  } catch (error) {
    let ending: unknown = error;
    if (error instanceof DeliveredDespiteCancel) {
      // A job that finished despite the cancel is settled as delivered; if its outputs can't be copied
      // (a URL expired while we followed it), it ends like any failure below: refunded, never left held.
      try {
        result = await CancellationScope.nonCancellable(() => finishSucceeded(error.pick, error.finished));
        ending = undefined;
      } catch (persistError) {
        ending = persistError;
      }
    }
    if (ending !== undefined) {
      const failure = failureOf(ending);
      const finalStatus: TaskStatus = failure.code === 'cancelled' ? 'cancelled' : 'failed';
      // Money back whatever happened; this scope ignores the cancellation that may have brought us here.
      await CancellationScope.nonCancellable(async () => {
        await refundCredits({ taskId: input.taskId, status: finalStatus, error: finalStatus === 'cancelled' ? null : failure });
      });
      setStatus(finalStatus);
      setCurrentDetails(`${finalStatus}: ${failure.code}`);
      result = { taskId: input.taskId, status: finalStatus, channelId: currentChannel ?? undefined, error: failure };
    }
  }

  if (input.callbackUrl) {
    await CancellationScope.nonCancellable(async () => {
      if (lean) await deliverCallback();
      else await sendCallback({ taskId: input.taskId });
    });
  }
  return result;

  /**
   * One delivery inside this workflow task; if the receiver refuses it or is slow, the queued sendCallback
   * takes over with its retries for a day. The message id is the task's, so every try carries one webhook-id.
   */
  async function deliverCallback(): Promise<void> {
    try {
      await firstTry.sendCallback({ taskId: input.taskId });
    } catch {
      await sendCallback({ taskId: input.taskId });
    }
  }

  /** Tries channels until one succeeds, a failure is final, or the attempts run out. */
  async function runOnChannels(): Promise<MediaTaskResult> {
    /** Workflow time before which a channel should not be asked again (its Retry-After, or a backoff). */
    const retryAt = new Map<string, number>();
    let lastFailure: AttemptFailure | undefined;
    for (attempts = 1; attempts <= input.maxChannelAttempts; attempts++) {
      const pick = await pickChannel({
        taskId: input.taskId,
        model: input.model,
        kind: input.kind,
        group: input.group,
        avoidChannelId: lastFailure ? tried[tried.length - 1] ?? null : null,
        triedChannelIds: [...new Set(tried)],
      });
      if (!pick) break;
      const wait = (retryAt.get(pick.channelId) ?? 0) - Date.now();
      if (wait > 0) {
        deadline.arm();
        await sleep(wait);
      }
      tried.push(pick.channelId);
      currentChannel = pick.channelId;
      providerNews = 0;
      if (!lean) upsertSearchAttributes([{ key: SearchAttributes.Channel, value: [...new Set(tried)] }]);
      setCurrentDetails(`attempt ${attempts} on channel ${pick.channelId} (${pick.provider})`);

      const finished = await attemptOnChannel(pick);
      if (finished.status === 'succeeded') return finishSucceeded(pick, finished);
      lastFailure = finished.error;
      if (!lastFailure?.retryable) throw new TaskFailed(upstreamFailure(lastFailure));
      retryAt.set(pick.channelId, Date.now() + (lastFailure.retryAfterMs ?? 1000 * 2 ** (attempts - 1)));
    }
    if (lastFailure) throw new TaskFailed(upstreamFailure(lastFailure));
    throw new TaskFailed({
      code: 'no_channel_available',
      type: 'gateway_error',
      message: `No enabled channel serves the model ${input.model} for this key's group`,
    });
  }

  /** One channel: submit, then wait; a provider job is cancelled upstream if we are cancelled meanwhile. */
  async function attemptOnChannel(pick: ChannelPick): Promise<FinishedJob> {
    // Lean workflows show no 'queued': the status after the submit (processing, or final) comes with the channel.
    if (status === 'pending' && !lean) setStatus('queued');
    // Submission is not interrupted: a cancel that arrives meanwhile would otherwise leave a job running
    // upstream that we never learn the id of. We finish submitting, then cancel that job.
    const submitted = await CancellationScope.nonCancellable(() => submitOrFailure(pick));
    deadline.check();
    if ('failure' in submitted) return { status: 'failed', job: { jobId: '' }, outputs: [], error: submitted.failure };
    if (CancellationScope.current().consideredCancelled) {
      if (has(CANCEL_FOLLOWS_JOB_PATCH)) {
        const finished = submitted.finished ?? (await CancellationScope.nonCancellable(() => cancelAndFollow(pick, submitted.job)));
        if (finished?.status === 'succeeded') throw new DeliveredDespiteCancel(pick, finished);
      } else if (!submitted.finished) {
        await CancellationScope.nonCancellable(() => cancelProviderJob(jobInput(pick, submitted.job)));
      }
      throw new CancelledFailure('The task was cancelled');
    }
    if (submitted.finished) return submitted.finished;
    if (status !== 'processing') setStatus('processing');
    deadline.arm();
    try {
      if (submitted.callbacks && has(PROVIDER_CALLBACKS_PATCH)) {
        return await waitForCallback(pick, submitted.job, submitted.callbacks.backstopMs);
      }
      return await waitForProvider({
        taskId: input.taskId,
        channelId: pick.channelId,
        kind: input.kind,
        upstreamModel: pick.upstreamModel,
        request: input.request,
        job: submitted.job,
        pollIntervalMs: pick.pollIntervalMs,
      });
    } catch (error) {
      if (isCancellation(error)) {
        if (has(CANCEL_FOLLOWS_JOB_PATCH)) {
          const finished = await CancellationScope.nonCancellable(() => cancelAndFollow(pick, submitted.job));
          if (finished?.status === 'succeeded') throw new DeliveredDespiteCancel(pick, finished);
        } else {
          await CancellationScope.nonCancellable(() => cancelProviderJob(jobInput(pick, submitted.job)));
        }
      }
      const failure = attemptFailureOf(error);
      if (failure) return { status: 'failed', job: submitted.job, outputs: [], error: failure };
      throw error;
    }
  }

  /**
   * Waits for the provider's callback (the providerUpdate signal), or `backstopMs` in case it never
   * comes, then reads the job's state once; until it ends. A callback that came during the submit counts.
   * After a failed read the next one comes at the channel's poll interval, not the slow backstop.
   */
  async function waitForCallback(pick: ChannelPick, job: JobHandle, backstopMs: number): Promise<FinishedJob> {
    let seen = 0;
    let pollErrors = 0;
    for (;;) {
      await condition(() => providerNews > seen, pollErrors > 0 ? pick.pollIntervalMs : backstopMs);
      seen = providerNews;
      const read = await (lean ? readProviderJobLocally : readProviderJob)({ ...jobInput(pick, job), pollErrors });
      if (read.finished) return read.finished;
      pollErrors = read.pollErrors;
    }
  }

  /**
   * Cancels the provider job. Unless the provider says it stopped it (and bills nothing), the job is
   * followed to its end, for at most FOLLOW_AFTER_CANCEL_MS: its final state, or null when it was
   * stopped, could not be read, or took too long (then it is refunded).
   */
  async function cancelAndFollow(pick: ChannelPick, job: JobHandle): Promise<FinishedJob | null> {
    const { outcome } = await cancelProviderJob(jobInput(pick, job));
    if (outcome === 'cancelled') return null;
    setCurrentDetails(`cancel ${outcome} on ${pick.channelId}: following the job to its end`);
    try {
      return await CancellationScope.withTimeout(FOLLOW_AFTER_CANCEL_MS, () =>
        waitForProvider({ ...jobInput(pick, job), pollIntervalMs: pick.pollIntervalMs }),
      );
    } catch (error) {
      if (isCancellation(error) || attemptFailureOf(error)) return null;
      throw error;
    }
  }

  /**
   * The asset copy, tried first inside this workflow task (most outputs copy in well under a second); one
   * that fails for a reason worth retrying, or takes longer, goes to the queued persistAssets with its
   * heartbeats and retries, under the deadline. A final failure (refused, too large) ends the task as before.
   */
  async function copyAssets(copy: Parameters<MediaActivities['persistAssets']>[0]): Promise<{ assetIds: string[] }> {
    try {
      return await firstTry.persistAssets(copy);
    } catch (error) {
      if (isCancellation(error) || !(error instanceof TemporalFailure)) throw error;
      // A final failure (refused, too large) ends the task; anything else gets the queued copy's retries.
      const cause = error instanceof ActivityFailure ? error.cause : error;
      if (cause instanceof ApplicationFailure && cause.nonRetryable) throw error;
    }
    deadline.arm();
    return persistAssets(copy);
  }

  function jobInput(pick: ChannelPick, job: JobHandle) {
    return { taskId: input.taskId, channelId: pick.channelId, kind: input.kind, upstreamModel: pick.upstreamModel, request: input.request, job };
  }

  async function submitOrFailure(pick: ChannelPick) {
    try {
      return await submitToProvider({
        taskId: input.taskId,
        channelId: pick.channelId,
        kind: input.kind,
        upstreamModel: pick.upstreamModel,
        request: input.request,
        attempt: attempts,
      });
    } catch (error) {
      const failure = attemptFailureOf(error);
      if (failure) return { failure };
      throw error;
    }
  }

  async function finishSucceeded(pick: ChannelPick, finished: FinishedJob): Promise<MediaTaskResult> {
    const copy = { ...jobInput(pick, finished.job), outputs: finished.outputs };
    const { assetIds } = lean ? await copyAssets(copy) : await persistAssets(copy);
    const { charged } = await CancellationScope.nonCancellable(() =>
      settleCredits({ taskId: input.taskId, channelId: pick.channelId, usage: finished.usage ?? {} }),
    );
    setStatus('succeeded');
    setCurrentDetails(`succeeded on ${pick.channelId}: ${assetIds.length} asset(s), ${charged} credits`);
    return { taskId: input.taskId, status: 'succeeded', channelId: pick.channelId, assetIds, charged };
  }
}

/**
 * The model's deadline over `work`, run in a scope of its own that is cancelled when the deadline passes.
 * Runs before the lean history start its timer at once (`armNow`); lean ones only when the task has
 * to wait on something it does not bound itself (a provider job, a backoff, a queued retry), so an instant
 * task records no timer, and check it without a timer after each submit.
 */
class Deadline {
  private readonly at: number;
  private readonly outer = CancellationScope.current();
  private readonly scope = new CancellationScope();
  private timer: CancellationScope | undefined;
  private passed = false;
  private over = false;

  constructor(private readonly ms: number, private readonly opts: { armNow: boolean }) {
    this.at = Date.now() + ms;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    const running = this.scope.run(work);
    if (this.opts.armNow) this.arm();
    try {
      return await running;
    } catch (error) {
      if (this.passed && isCancellation(error)) {
        throw new TaskFailed({
          code: 'deadline_exceeded',
          type: 'upstream_error',
          message: `The task did not finish within its deadline of ${Math.round(this.ms / 1000)} s`,
        });
      }
      throw error;
    } finally {
      this.over = true;
      this.timer?.cancel();
    }
  }

  /** Starts the timer, once, while the work runs. */
  arm(): void {
    if (this.timer || this.over) return;
    this.timer = new CancellationScope({ cancellable: true, parent: this.outer });
    void this.timer
      .run(() => sleep(this.opts.armNow ? this.ms : Math.max(this.at - Date.now(), 1)))
      .then(() => this.expire())
      .catch(() => undefined);
  }

  /** Cancels the work now if the deadline has passed (no timer needed to notice). */
  check(): void {
    if (!this.opts.armNow && !this.over && Date.now() >= this.at) this.expire();
  }

  private expire(): void {
    this.passed = true;
    this.scope.cancel();
  }
}

/** The failure a provider activity reported, or undefined for anything else. */
function attemptFailureOf(error: unknown): AttemptFailure | undefined {
  // A queued activity's failure wraps the activity's ApplicationFailure; a local activity's arrives bare.
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (cause instanceof ApplicationFailure && cause.details?.[0] && typeof cause.details[0] === 'object') {
    return cause.details[0] as AttemptFailure;
  }
  return undefined;
}

function upstreamFailure(failure: AttemptFailure | undefined): TaskFailure {
  if (!failure) return { code: 'upstream_error', type: 'upstream_error', message: 'The provider failed' };
  return { code: failure.code, type: 'upstream_error', message: failure.message };
}

/** Turns whatever ended the task into the error object of API.md. */
function failureOf(error: unknown): TaskFailure {
  if (error instanceof TaskFailed) return error.failure;
  if (isCancellation(error)) return { code: 'cancelled', type: 'gateway_error', message: 'The task was cancelled' };
  const failure = attemptFailureOf(error);
  if (failure) return upstreamFailure(failure);
  return {
    code: 'internal_error',
    type: 'gateway_error',
    message: `The task failed inside the gateway (${workflowInfo().workflowId})`,
  };
}
