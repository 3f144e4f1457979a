/**
 * Money and usage rows for the synchronous token routes (chat completions, embeddings).
 *
 * The billing rule:
 * - Before the upstream call, hold price(estimated prompt tokens, output cap): prompt tokens counted with
 *   the model's tokenizer (token-estimate.ts), the output cap the client's own `max_completion_tokens` /
 *   `max_tokens`, else the model's `max_output_tokens` (default DEFAULT_MAX_OUTPUT_TOKENS, 4096), times
 *   `n`. The wallet must cover that hold or the request is 402 `insufficient_credits`; an account with
 *   debt gets no hold at all.
 * - Afterwards capture price(real tokens) in full, even above the hold: the provider bills us for what
 *   it generated, so the consumer pays it. The part above the hold comes from the balance in the same
 *   transaction as the capture; what the balance can't cover becomes the account's debt (ledger.ts,
 *   chargeBeyondHold), which blocks new holds until a top-up pays it.
 * - Real tokens are the upstream's reported usage, its detail fields (cached, audio, reasoning tokens)
 *   priced at their own rates when the model's pricing names them. When no usage arrived (a stream cut
 *   mid-way, a client that left and an upstream that did not send usage in time): the estimated prompt
 *   plus the tokenizer count of the text generated. Never 0 once output was generated.
 * - Released in full when no upstream answered or nothing was generated.
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
import type { TokenUsage } from '../../billing/pricing';

/** How a request ended, as its usage row says. */
export type UsageStatus = 'succeeded' | 'failed' | 'cancelled';

/** Takes the hold for one request, or throws 402 `insufficient_credits` (wallet) / `budget_exceeded` (the key's budget). */
export async function holdForRequest(leases: CreditLeases, input: { ref: string; accountId: string; apiKeyId: string; amount: number }): Promise<Reservation> {
  const outcome = await leases.reserve(input);
  if (outcome.status === 'held') return outcome.reservation;
  throw outcome.status === 'budget_exceeded' ? errors.budgetExceeded() : errors.insufficientCredits();
}

/** Credits for `tokens` under the billing rule: the full price, whatever the hold was. */
export function chargeFor(pricing: Pricing, tokens: TokenUsage): number {
  return priceTokens(pricing, tokens);
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
  const units = row.tokens ? usageUnits(row.tokens) : {};
  return leases.settle(input.reservation, {
    capture: input.capture,
    usage: { model: row.model, category: row.category, channelId: row.channelId, units, status: row.status, latencyMs: row.latencyMs },
  });
}

/** A usage row's units: the totals, and each detail the upstream reported. */
export function usageUnits(tokens: TokenUsage): Record<string, number> {
  const units: Record<string, number> = { input_tokens: tokens.input, output_tokens: tokens.output };
  if (tokens.cachedInput) units.cached_input_tokens = tokens.cachedInput;
  if (tokens.audioInput) units.audio_input_tokens = tokens.audioInput;
  if (tokens.reasoning) units.reasoning_tokens = tokens.reasoning;
  if (tokens.audioOutput) units.audio_output_tokens = tokens.audioOutput;
  return units;
}
