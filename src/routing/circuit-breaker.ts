import type { Knex } from '@mikro-orm/postgresql';

/** Failures in a row that open a channel's circuit, and how long it then stays open (channel settings may override). */
export const DEFAULT_CIRCUIT_THRESHOLD = 5;
export const DEFAULT_CIRCUIT_COOLDOWN_MS = 30_000;

export type CircuitState = 'closed' | 'open' | 'half_open';

/** What operators see of a channel's health. */
export interface CircuitView {
  state: CircuitState;
  consecutive_failures: number;
  open_until: string | null;
  last_error_code: string | null;
}

/**
 * Per-channel circuit breaker kept in PostgreSQL, so every worker sees the same state. After
 * `threshold` retryable failures in a row the channel is skipped until its cool-down ends; then it is
 * half-open: the next task may try it, and one success closes it again.
 */
export function createCircuitBreaker(knex: () => Knex) {
  return {
    async recordFailure(channelId: string, code: string, opts: { threshold?: number; cooldownMs?: number } = {}): Promise<void> {
      const threshold = opts.threshold ?? DEFAULT_CIRCUIT_THRESHOLD;
      const cooldownMs = opts.cooldownMs ?? DEFAULT_CIRCUIT_COOLDOWN_MS;
      await knex().raw(
        `insert into channel_health (channel_id, consecutive_failures, last_error_code, last_failure_at, open_until)
         values (?, 1, ?, now(), case when 1 >= ? then now() + (? * interval '1 millisecond') end)
         on conflict (channel_id) do update set
           consecutive_failures = channel_health.consecutive_failures + 1,
           last_error_code = excluded.last_error_code,
           last_failure_at = now(),
           open_until = case when channel_health.consecutive_failures + 1 >= ? then now() + (? * interval '1 millisecond')
                             else channel_health.open_until end`,
        [channelId, code, threshold, cooldownMs, threshold, cooldownMs],
      );
    },

    async recordSuccess(channelId: string): Promise<void> {
      await knex().raw(
        `insert into channel_health (channel_id, consecutive_failures, last_success_at) values (?, 0, now())
         on conflict (channel_id) do update set consecutive_failures = 0, open_until = null, last_success_at = now()`,
        [channelId],
      );
    },

    /** Channel ids whose circuit is open right now, with the time each opens again. */
    async openChannels(channelIds: string[]): Promise<Map<string, Date>> {
      if (channelIds.length === 0) return new Map();
      const result = await knex().raw(
        `select channel_id, open_until from channel_health where channel_id = any(?) and open_until > now()`,
        [channelIds],
      );
      return new Map(result.rows.map((row: { channel_id: string; open_until: Date }) => [row.channel_id, new Date(row.open_until)]));
    },

    async view(channelId: string): Promise<CircuitView> {
      const result = await knex().raw(
        `select consecutive_failures, open_until, last_error_code, open_until > now() as is_open from channel_health where channel_id = ?`,
        [channelId],
      );
      const row = result.rows[0];
      if (!row) return { state: 'closed', consecutive_failures: 0, open_until: null, last_error_code: null };
      const state: CircuitState = row.is_open ? 'open' : row.open_until ? 'half_open' : 'closed';
      return {
        state,
        consecutive_failures: Number(row.consecutive_failures),
        open_until: row.open_until ? new Date(row.open_until).toISOString() : null,
        last_error_code: row.last_error_code ?? null,
      };
    },
  };
}

export type CircuitBreaker = ReturnType<typeof createCircuitBreaker>;
