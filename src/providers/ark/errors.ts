/** How Ark failures are recognised. */
import type { ErrorDetails } from '../http';
import { ArkErrorBody } from './dto';

/** `InputTextSensitiveContentDetected`, `OutputVideoSensitiveContentDetected`, ...: content policy. */
export function isArkPolicy(code: string | undefined): boolean {
  return code !== undefined && code.includes('SensitiveContentDetected');
}

/**
 * A failed task whose code names a server-side problem (`InternalServiceError`, `ServiceUnavailable`,
 * overload or timeout codes) is worth resubmitting; any other code describes the request and is not.
 */
export function isArkInfraFailure(code: string | undefined): boolean {
  return code !== undefined && /InternalServiceError|InternalError|ServiceUnavailable|ServerOverloaded|Overload|Timeout/i.test(code);
}

/** Reads `{"error":{...}}` from an Ark HTTP error. */
export function readArkError(body: unknown): ErrorDetails {
  const parsed = ArkErrorBody.safeParse(body);
  if (!parsed.success) return {};
  const code = parsed.data.error.code ?? undefined;
  return { providerCode: code, providerMessage: parsed.data.error.message ?? undefined, contentPolicy: isArkPolicy(code) };
}
