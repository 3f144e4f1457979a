import type { GatewayChannelSettings } from '../../routing/channel-access';

/**
 * How often a provider job is read, for both ways of waiting on it (the waitForProvider activity and the
 * shared poller), so switching between them changes nothing upstream sees.
 */

/** Consecutive failed status reads tolerated before the attempt is given up as an infrastructure failure. */
export const MAX_POLL_ERRORS = 5;

/**
 * A job still running after a few polls is a long one: the interval grows by half at each poll up to
 * this (or the channel's own interval when longer). Short jobs are still seen at once, and 2,000 jobs of
 * a minute cost 2,000 polls a second instead of the 8,000 of the mock's 250 ms.
 */
export const LONG_JOB_POLL_MS = 1000;

/** The channel's poll interval: its `pollIntervalMs`, else 250 ms for the mock and 2 s for real providers. */
export function basePollInterval(provider: string, gateway: GatewayChannelSettings): number {
  return gateway.pollIntervalMs ?? (provider === 'mock' ? 250 : 2000);
}

/** The interval after `interval`: half as long again, up to LONG_JOB_POLL_MS or the channel's own when longer. */
export function nextPollInterval(interval: number, base: number): number {
  return Math.min(Math.max(base, LONG_JOB_POLL_MS), Math.round(interval * 1.5));
}
