import { Context } from '@temporalio/activity';

/** How often a step that waits on the network tells Temporal it is alive (the SDK throttles the sends). */
const HEARTBEAT_EVERY_MS = 2000;

/**
 * Runs `work` while heartbeating, so a step that waits on one long call (a provider submit, a download)
 * can have a short heartbeat timeout: a worker killed mid-step is noticed within that timeout instead of
 * the step's whole start-to-close limit.
 */
export async function withHeartbeat<T>(work: () => Promise<T>, details?: unknown): Promise<T> {
  const context = Context.current();
  // A local activity has no heartbeat (core would warn on each one): its workflow task's timeout notices a dead worker.
  if (context.info.isLocal) return work();
  context.heartbeat(details);
  const timer = setInterval(() => context.heartbeat(details), HEARTBEAT_EVERY_MS);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}
