import { z } from 'zod';
import { ProviderError, type MediaKind } from '../types';
import { SUBMIT_ERROR_CODES } from './failures';

/** A job may run for at most a day: longer is surely a typo. */
export const MAX_DURATION_MS = 86_400_000;
export const DEFAULT_DURATION_MS = 3000;

const DurationMs = z.number().int().min(0).max(MAX_DURATION_MS);

/** A mock channel's `settings`. Unknown keys are refused so that a misspelt setting is not silently ignored. */
export const MockSettings = z.strictObject({
  /** How long a job runs, queue time included: one number for every kind, or per kind (others keep 3000). */
  durationMs: z
    .union([
      DurationMs,
      z.strictObject({ image: DurationMs.optional(), video: DurationMs.optional(), music: DurationMs.optional() }),
    ])
    .default(DEFAULT_DURATION_MS),
  /** Share of jobs (0..1) that fail in flight with retryable `upstream_unavailable`; drawn from task id + attempt. */
  failRate: z.number().min(0).max(1).default(0),
  /** When a failing job fails, as a fraction of its duration (0: at once, 1: when it would have finished). */
  failAt: z.number().min(0).max(1).default(0.5),
  /** Make every submit throw: one of our error codes, or an upstream HTTP status (400..599) to classify. */
  submitError: z.union([z.enum(SUBMIT_ERROR_CODES), z.number().int().min(400).max(599)]).optional(),
});
export type MockSettings = z.infer<typeof MockSettings>;

/** Parses a channel's settings; throws a non-retryable `invalid_channel_settings` naming every bad field. */
export function parseMockSettings(channelId: string, raw: unknown): MockSettings {
  const parsed = MockSettings.safeParse(raw ?? {});
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(settings)'}: ${i.message}`).join('; ');
  throw new ProviderError({
    code: 'invalid_channel_settings',
    message: `mock channel ${channelId} has invalid settings: ${issues}`,
    retryable: false,
  });
}

/** The configured run time for one kind. */
export function durationFor(settings: MockSettings, kind: MediaKind): number {
  const d = settings.durationMs;
  return typeof d === 'number' ? d : (d[kind] ?? DEFAULT_DURATION_MS);
}
