/**
 * The shared provider poller: one per worker process, it reads every waiting job of polled providers
 * for its task queue and wakes the task's workflow (the providerUpdate signal, as a provider callback
 * does) when the job has ended, so no activity slot is held while a job waits. The workflow then reads
 * the job once itself (readProviderJob) and carries on; its slow backstop read is the last resort.
 *
 * Jobs live in PostgreSQL (poll-store.ts), so several workers share them: each claims due jobs under a
 * short lease, never two at once, and a killed worker's claims come due again when their lease runs out.
 * The interval policy is the waitForProvider activity's (poll-policy.ts); progress goes through the
 * batched progress writer; a failed read is retried at the poll interval, and the one that would end the
 * attempt (final, or the MAX_POLL_ERRORS-th in a row) wakes the workflow, whose own read classifies it
 * exactly as before.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from '../../log';
import { newId } from '../../ids';
import { loadChannelAccess } from '../../routing/channel-access';
import type { SecretBox } from '../../security/secrets';
import type { ProviderRegistry } from '../registry';
import { ProviderError, type ChannelAccess, type ProviderErrorInfo } from '../types';
import { createProgressWriter, type ProgressWriter } from '../../../activities/progress-writer';
import { providerUpdateSignal } from '../../../workflows/messages';
import { MAX_POLL_ERRORS, nextPollInterval } from './poll-policy';
import { createPollStore, type ClaimedPoll, type PollOutcome } from './poll-store';

/** How far a claim moves a job's next read ahead: another poller takes it over after this if we died. */
const LEASE_MS = 10_000;
/** Claims whose read is still running are renewed this often, so a slow provider never loses its lease. */
const RENEW_EVERY_MS = 3_000;
/** Jobs claimed at once, and reads running at once, per poller. */
const CLAIM_BATCH = 500;
const MAX_IN_FLIGHT = 1000;
/** Pause between rounds while jobs are waiting; longer when there is nothing to read. */
const BUSY_PAUSE_MS = 100;
const IDLE_PAUSE_MS = 250;
/** After waking a workflow, the job is read (and the workflow woken) again only this much later, if still watched. */
const RESIGNAL_AFTER_MS = 10_000;
/** A channel's credential and settings are reused this long (one load per channel, not per read). */
const CHANNEL_CACHE_MS = 5_000;
/** Jobs of tasks that ended (cancelled, deadline) are forgotten this often. */
const SWEEP_EVERY_MS = 30_000;
/** On a clean stop, reads still running get this long before their claims are handed back. */
const STOP_GRACE_MS = 5_000;

/** Wakes a task's workflow about its job; 'gone' when no workflow runs under that id any more. */
export type WakeWorkflow = (taskId: string, attempt: number) => Promise<'sent' | 'gone'>;

export interface JobPollerDeps {
  orm: MikroORM;
  providers: ProviderRegistry;
  box: SecretBox;
  log: Logger;
  /** The Temporal task queue whose jobs this poller reads (the worker's own). */
  queue: string;
  wake: WakeWorkflow;
  progress?: Pick<ProgressWriter, 'set'>;
  /** Tests shorten the lease to see a dead poller's jobs taken over. */
  leaseMs?: number;
}

export interface JobPoller {
  readonly id: string;
  /** Stops claiming, lets running reads finish (briefly), writes their outcomes and hands back the rest. */
  stop(): Promise<void>;
  /** Stops at once and writes nothing, as a killed process would: its claims come due when the lease runs out. */
  kill(): void;
}

/** The providerUpdate signal through a Temporal client: what the provider callback route sends too. */
export function wakeByClient(client: Client): WakeWorkflow {
  return async (taskId, attempt) => {
    try {
      await client.workflow.getHandle(taskId).signal(providerUpdateSignal, { attempt });
      return 'sent';
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return 'gone';
      throw error;
    }
  };
}

export function startJobPoller(deps: JobPollerDeps): JobPoller {
  const id = newId('poller');
  const leaseMs = deps.leaseMs ?? LEASE_MS;
  const store = createPollStore(() => deps.orm.em.getKnex());
  const progress = deps.progress ?? createProgressWriter(deps);
  const channels = new Map<string, { at: number; access: Promise<{ provider: string; access: ChannelAccess }> }>();
  const reading = new Map<string, Promise<void>>();
  let outcomes: PollOutcome[] = [];
  let running = true;
  /** Killed (tests): nothing more is written or sent, as if the process were gone. */
  let killed = false;
  let wakeUp: (() => void) | null = null;
  let stopping: Promise<void> | null = null;

  const renewer = setInterval(() => {
    store.renew(id, [...reading.keys()], leaseMs).catch((error: unknown) => deps.log.warn({ err: message(error) }, 'job poller: lease renewal failed'));
  }, Math.min(RENEW_EVERY_MS, Math.floor(leaseMs / 3)));
  renewer.unref();

  const loop = (async () => {
    let nextSweep = Date.now() + SWEEP_EVERY_MS;
    while (running) {
      let pause = IDLE_PAUSE_MS;
      try {
        await settle();
        if (Date.now() >= nextSweep) {
          nextSweep = Date.now() + SWEEP_EVERY_MS;
          await store.sweep(deps.queue);
        }
        const room = Math.min(CLAIM_BATCH, MAX_IN_FLIGHT - reading.size);
        const claimed = room > 0 ? await store.claim(deps.queue, id, room, leaseMs) : [];
        if (!running) break;
        for (const poll of claimed) {
          // Our own read of it is still running (its lease ran out while the database was away): let it end.
          if (reading.has(poll.taskId)) continue;
          const read = readOne(poll).finally(() => reading.delete(poll.taskId));
          reading.set(poll.taskId, read);
        }
        pause = claimed.length === room && room > 0 ? 0 : claimed.length > 0 || reading.size > 0 ? BUSY_PAUSE_MS : IDLE_PAUSE_MS;
      } catch (error) {
        deps.log.warn({ err: message(error), queue: deps.queue }, 'job poller round failed');
      }
      if (pause > 0 && running) await new Promise<void>((resolve) => {
        wakeUp = resolve;
        setTimeout(resolve, pause).unref();
      });
      wakeUp = null;
    }
  })();

  /** Writes the outcomes of the reads that ended since the last round, in one or two statements. */
  async function settle(): Promise<void> {
    if (outcomes.length === 0) return;
    const batch = outcomes;
    outcomes = [];
    try {
      await store.settle(id, batch);
    } catch (error) {
      // Not lost: the claims run out and the jobs are read again.
      deps.log.warn({ err: message(error), jobs: batch.length }, 'job poller: could not write poll outcomes');
    }
  }

  /** Reads one job and decides what happens next; never throws. */
  async function readOne(poll: ClaimedPoll): Promise<void> {
    const readAt = Date.now();
    /** The next read `delayMs` after this one, counted from when this one began. */
    const later = (delayMs: number, intervalMs: number, pollErrors: number): PollOutcome => ({
      taskId: poll.taskId, attempt: poll.attempt, delayMs: delayMs - (Date.now() - readAt), intervalMs, pollErrors,
    });
    const next = nextPollInterval(poll.intervalMs, poll.baseIntervalMs);
    let outcome: PollOutcome;
    try {
      outcome = await readAndDecide(poll, later, next);
    } catch (error) {
      // Not the provider's answer (our database, Temporal, a bug): try again later without counting it.
      deps.log.warn({ err: message(error), taskId: poll.taskId }, 'job poller: read failed');
      outcome = later(Math.max(poll.intervalMs, RESIGNAL_AFTER_MS), poll.intervalMs, poll.pollErrors);
    }
    if (!killed) outcomes.push(outcome);
  }

  async function readAndDecide(poll: ClaimedPoll, later: (delayMs: number, intervalMs: number, pollErrors: number) => PollOutcome, next: number): Promise<PollOutcome> {
    const channel = await channelAccess(poll.channelId);
    const provider = deps.providers.get(channel.provider);
    let pollErrors = poll.pollErrors;
    let endingError: ProviderErrorInfo | undefined;
    try {
      const job = await provider.status(channel.access, { jobId: poll.job.jobId, handles: poll.job.handles, request: poll.request });
      pollErrors = 0;
      if (job.status !== 'succeeded' && job.status !== 'failed' && job.status !== 'cancelled') {
        progress.set(poll.taskId, job.progress);
        return later(poll.intervalMs, next, pollErrors);
      }
    } catch (error) {
      if (!(error instanceof ProviderError)) throw error;
      // Counted as the waitForProvider activity counts. The read that ends the attempt (a final error, or
      // the MAX_POLL_ERRORS-th in a row) is handed to the workflow's read, which classifies it (and opens
      // the circuit, disables the channel) exactly as today, without asking the provider again.
      if (error.retryable && poll.pollErrors + 1 < MAX_POLL_ERRORS) return later(poll.intervalMs, next, poll.pollErrors + 1);
      endingError = error.toInfo();
    }
    if (killed) throw new Error('the poller was killed');
    // The workflow's read must find the error: it is written (and the claim handed back) before the wake.
    if (endingError) await store.settle(id, [{ ...later(Math.max(poll.intervalMs, RESIGNAL_AFTER_MS), poll.intervalMs, pollErrors), endingError }]);
    if ((await deps.wake(poll.taskId, poll.attempt)) === 'gone') return { taskId: poll.taskId, attempt: poll.attempt, forget: true };
    return later(Math.max(poll.intervalMs, RESIGNAL_AFTER_MS), poll.intervalMs, pollErrors);
  }

  function channelAccess(channelId: string): Promise<{ provider: string; access: ChannelAccess }> {
    const cached = channels.get(channelId);
    if (cached && Date.now() - cached.at < CHANNEL_CACHE_MS) return cached.access;
    const em: EntityManager = deps.orm.em.fork();
    const access = loadChannelAccess(em, deps.box, channelId);
    channels.set(channelId, { at: Date.now(), access });
    access.catch(() => channels.delete(channelId));
    return access;
  }

  return {
    id,
    stop() {
      stopping ??= (async () => {
        running = false;
        wakeUp?.();
        await loop;
        clearInterval(renewer);
        await Promise.race([Promise.allSettled(reading.values()), new Promise((resolve) => setTimeout(resolve, STOP_GRACE_MS).unref())]);
        await settle();
        await store.release(id).catch((error: unknown) => deps.log.warn({ err: message(error) }, 'job poller: could not hand back its jobs'));
      })();
      return stopping;
    },
    kill() {
      running = false;
      killed = true;
      clearInterval(renewer);
      wakeUp?.();
    },
  };
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
