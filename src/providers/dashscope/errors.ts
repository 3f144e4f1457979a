/** How DashScope failures are recognised: by the `code` of the error envelope or of a FAILED task. */
import type { ErrorDetails } from '../http';
import { DashScopeErrorBody } from './dto';

/** `DataInspectionFailed` (input or output moderation) and its relatives are content policy. */
export function isDashScopePolicy(code: string | undefined): boolean {
  return code !== undefined && /DataInspection|IPInfringement|Inappropriate/i.test(code);
}

/** A FAILED task whose code names a server-side problem is worth resubmitting elsewhere. */
export function isDashScopeInfraFailure(code: string | undefined): boolean {
  return code !== undefined && /^InternalError|ServiceUnavailable|SystemError|Timeout/i.test(code);
}

/** `Arrearage`: the DashScope account is overdue, answered as HTTP 400. Final: no retry can pay it. */
export function isArrearage(code: string | undefined): boolean {
  return code === 'Arrearage';
}

/** Reads `{"code","message"}` from a DashScope HTTP error. */
export function readDashScopeError(body: unknown): ErrorDetails {
  const parsed = DashScopeErrorBody.safeParse(body);
  if (!parsed.success) return {};
  const code = parsed.data.code ?? undefined;
  return { providerCode: code, providerMessage: parsed.data.message ?? undefined, contentPolicy: isDashScopePolicy(code) };
}
