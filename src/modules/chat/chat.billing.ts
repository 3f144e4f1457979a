/**
 * Money and usage rows for the synchronous token routes (chat completions, embeddings).
 *
 * The billing rule:
 * - Before the upstream call, hold price(estimated prompt tokens, output cap), where the output cap is the
 *   client's own `max_completion_tokens` / `max_tokens`, or DEFAULT_OUTPUT_CAP (4096) when it set none,
 *   times `n`. The wallet must cover that hold or the request is 402 `insufficient_credits`.
 * - Afterwards capture price(real tokens), never more than the hold: the hold is the most one request
 *   can cost, whatever the upstream says. With a client limit the upstream can't go past the cap, so the
 *   cap only bites when our prompt estimate was low; without one, an answer longer than 4096 tokens is
 *   charged as 4096 (logged as a warning). This keeps the wallet from going below zero and the ledger
 *   append-only: a request never charges money it did not reserve.
 * - Real tokens are the upstream's reported usage; when none arrived (a stream cut mid-way, a client that
 *   left), the estimated prompt plus the output tokens counted in the chunks actually delivered.
 * - Released in full when no upstream answered or nothing reached the client.
 *
 * Holds come from the process's credit lease (src/billing/credit-lease.ts): the request carves its hold
 * from a block the lease reserved, and its settlement (the capture and the usage row, in one transaction,
 * with credits = the captured amount) is written by the lease's next flush, a few ms after the answer.
 * So the sum of captures in the ledger always equals the sum of credits in usage_records.
 */
import type { CreditLeases, Reservation } from '../../billing/credit-lease';
import { priceTokens } from '../../billing/pricing';
import type { Pricing } from '../../db/entities';
import { errors } from '../../http/errors';
import type { TokenUsage } from './sse';

/** How a request ended, as its usage row says. */
export type UsageStatus = 'succeeded' | 'failed' | 'cancelled';

/** Takes the hold for one request, or throws 402 `insufficient_credits` (wallet) / `budget_exceeded` (the key's budget). */
export async function holdForRequest(leases: CreditLeases, input: { ref: string; accountId: string; apiKeyId: string; amount: number }): Promise<Reservation> {
  const outcome = await leases.reserve(input);
  if (outcome.status === 'held') return outcome.reservation;
  throw outcome.status === 'budget_exceeded' ? errors.budgetExceeded() : errors.insufficientCredits();
}

/** Credits for `tokens` under the billing rule: the price, capped at the hold. */
export function chargeFor(pricing: Pricing, tokens: TokenUsage, held: number): { charge: number; price: number } {
  const price = priceTokens(pricing, tokens);
  return { charge: Math.min(price, held), price };
}

/** Everything a usage row records. */
export interface UsageRow {
  model: string;
  category: string;
  channelId: string | null;
  tokens: TokenUsage | null;
  status: UsageStatus;
  latencyMs: number;
}

/**
 * Closes the request's hold (capturing `capture`, releasing the rest) and queues its usage row; both are
 * written together by the lease's next flush. Idempotent: a second call changes nothing. Returns the
 * credits captured.
 */
export function settleRequest(leases: CreditLeases, input: { reservation: Reservation; capture: number; row: UsageRow }): number {
  const { row } = input;
  const units: Record<string, number> = row.tokens ? { input_tokens: row.tokens.input, output_tokens: row.tokens.output } : {};
  return leases.settle(input.reservation, {
    capture: input.capture,
    usage: { model: row.model, category: row.category, channelId: row.channelId, units, status: row.status, latencyMs: row.latencyMs },
  });
}
