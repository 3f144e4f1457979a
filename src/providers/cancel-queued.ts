/**
 * The cancel rule of protocols that stop only a queued job (Ark's DELETE, DashScope's POST .../cancel):
 * the job is read first, so a finished one is never touched (Ark's DELETE would delete its record) and a
 * running one costs no call; if the job starts between the read and the cancel, the provider refuses and
 * the job is read again.
 */
import { ProviderError, type CancelOutcome, type ProviderJob } from './types';

export async function cancelWhileQueued(steps: {
  /** Reads the job's current state. */
  read(): Promise<ProviderJob>;
  /** Sends the provider's cancel; throws ProviderError when refused. */
  send(): Promise<unknown>;
  /** HTTP statuses with which the provider refuses to cancel a job that is no longer queued. */
  refusedStatuses: readonly number[];
}): Promise<CancelOutcome> {
  const before = await steps.read();
  if (before.status === 'processing') return 'not_cancellable';
  if (before.status !== 'queued') return 'already_finished';
  try {
    await steps.send();
    return 'cancelled';
  } catch (err) {
    if (!(err instanceof ProviderError) || !steps.refusedStatuses.includes(err.httpStatus ?? 0)) throw err;
  }
  const after = await steps.read();
  if (after.status === 'cancelled') return 'cancelled';
  if (after.status === 'queued' || after.status === 'processing') return 'not_cancellable';
  return 'already_finished';
}
