import type { ActivityOptions, LocalActivityOptions } from '@temporalio/workflow';

/**
 * Activity option groups, defined once. Each retry policy says why it is what it is.
 * Provider failures are reported as non-retryable ApplicationFailures: moving to another channel is the
 * workflow's decision, so Temporal retries only our own transient faults (database, network to us).
 */

/** Reservation answers the admission update: it must be fast, so it runs as a local activity. */
export const reservation: LocalActivityOptions = {
  startToCloseTimeout: '10 seconds',
  // The API waits on this; a few quick retries ride over a database blip, then the POST fails cleanly.
  retry: { initialInterval: '100 ms', backoffCoefficient: 2, maximumInterval: '2 seconds', maximumAttempts: 5 },
};

/**
 * Database bookkeeping: idempotent, so retry until it works (a PostgreSQL restart must not lose a task).
 * The heartbeat timeout notices a worker killed mid-step in seconds, not after the whole 2 minutes; the
 * steps that wait on the network (asset copies, provider cancels) heartbeat while they wait.
 */
export const bookkeeping: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '500 ms', backoffCoefficient: 2, maximumInterval: '30 seconds' },
};

/**
 * The same bookkeeping as local activities, run inside the workflow task: picking a channel and the final
 * settle or refund are short idempotent statements, so they skip the round trip through the task queue
 * (three history events and one more workflow task each). No heartbeat: a killed worker's workflow task
 * times out in seconds and the next worker runs the step again. Retried until it works, like bookkeeping.
 */
export const localBookkeeping: LocalActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500 ms', backoffCoefficient: 2, maximumInterval: '30 seconds' },
};

/**
 * One submission to a provider. Retried in place only for our own faults, a few times. It heartbeats
 * while the provider answers, so a worker killed mid-submit is replaced within the heartbeat timeout.
 */
export const providerCalls: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5 },
};

/**
 * Waiting on a provider job: one long activity that polls and heartbeats. A dead worker is noticed within
 * the heartbeat timeout and another picks the wait up from the job id; the task deadline bounds it all.
 */
export const providerWait: ActivityOptions = {
  startToCloseTimeout: '24 hours',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
};

/**
 * One read of a provider job (a callback came, or the backstop poll is due). Provider failures come back
 * as data (counted by the workflow), so Temporal retries only our own faults, and as long as the wait
 * would have (the task deadline bounds it): a database restart must not fail a task whose job is fine.
 */
export const providerRead: ActivityOptions = {
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
};

/**
 * The same read as a local activity, in current runs: a callback or the shared poller has just said the
 * job changed, so the read is due now and short; inside the workflow task it skips a trip through the task
 * queue (three history events and one more workflow task) on every job's last step. Retried like
 * providerRead; the channel's call timeout (30 s by default) bounds one try.
 */
export const providerReadLocal: LocalActivityOptions = {
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
};

/**
 * First tries, inside the workflow task, of steps that have a queued activity to fall back on: one attempt,
 * no round trip through the task queue (three history events and a workflow task each). If the attempt
 * fails or runs out of time, the workflow hands the step to the queued activity and its retry policy, so
 * only that attempt is lost. The asset copy gets long enough for images and short clips on a fast link;
 * the consumer callback as long as a healthy receiver needs to answer (sendCallback waits a second less).
 */
export const firstTryAssets: LocalActivityOptions = {
  startToCloseTimeout: '10 seconds',
  retry: { maximumAttempts: 1 },
};
export const firstTryCallback: LocalActivityOptions = {
  startToCloseTimeout: '5 seconds',
  retry: { maximumAttempts: 1 },
};

/**
 * Callbacks: first retry within a minute, then growing gaps for a day, as receivers expect of Stripe-like
 * webhooks. A dead receiver only delays the workflow's close; the task's outcome is already final.
 */
export const callbacks: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  scheduleToCloseTimeout: '24 hours',
  retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumInterval: '1 hour' },
};
