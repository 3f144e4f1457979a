/** How Runway failures are recognised (docs.dev.runwayml.com /errors/errors and /errors/task-failures). */
import type { ErrorDetails } from '../http';
import { RunwayErrorBody } from './dto';

/** `SAFETY.INPUT.*`, `SAFETY.OUTPUT.*`, `INPUT_PREPROCESSING.SAFETY.*`: moderation; Runway says never retry. */
export function isRunwayPolicy(code: string | undefined): boolean {
  return code !== undefined && (code.startsWith('SAFETY.') || code.startsWith('INPUT_PREPROCESSING.SAFETY'));
}

/**
 * Runway's own trouble, worth one more try elsewhere: `INTERNAL.BAD_OUTPUT.*` (a bad generation),
 * `INPUT_PREPROCESSING.INTERNAL` (its moderation service failed) and other `INTERNAL*` codes. Everything
 * else (`ASSET.INVALID`, unknown codes) describes the request and is final.
 */
export function isRunwayInfraFailure(code: string | undefined): boolean {
  return code !== undefined && (code.startsWith('INTERNAL') || code === 'INPUT_PREPROCESSING.INTERNAL');
}

/** Reads `{"error":"...","issues":[...]}` from a Runway HTTP error. */
export function readRunwayError(body: unknown): ErrorDetails {
  const parsed = RunwayErrorBody.safeParse(body);
  if (!parsed.success) return {};
  const { error, issues } = parsed.data;
  const text = typeof error === 'string' ? error : (error.message ?? undefined);
  const field = issues?.[0]?.path?.join('.');
  const code = typeof error === 'string' ? undefined : (error.code ?? undefined);
  return {
    providerCode: code,
    providerMessage: field ? `${text ?? 'invalid request'} (${field})` : text,
    contentPolicy: isRunwayPolicy(code) || /moderat|safety/i.test(text ?? ''),
  };
}
