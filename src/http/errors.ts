import { ZodError } from 'zod';

/** The error `type`s of API.md. */
export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'gateway_error'
  | 'upstream_error';

/** The wire shape of every error. */
export interface ErrorBody {
  error: { message: string; type: ErrorType; code: string; param?: string; details?: unknown };
}

/** An error the gateway means to answer with: a status, a code and a message safe to show. */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly type: ErrorType = defaultTypeFor(status),
    readonly details?: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'AppError';
  }
}

function defaultTypeFor(status: number): ErrorType {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 400 || status === 413 || status === 415 || status === 422) return 'invalid_request_error';
  if (status >= 500 && status !== 503) return 'gateway_error';
  return 'gateway_error';
}

/** One line per zod issue, each naming the field: `duration: Expected number, received string`. */
export function describeZodIssues(error: ZodError): string[] {
  return error.issues.map((issue) => {
    const where = issue.path.length > 0 ? issue.path.join('.') : '(body)';
    return `${where}: ${issue.message}`;
  });
}

export interface ErrorResponse {
  status: number;
  body: ErrorBody;
  headers: Record<string, string>;
  /** True when the error was unexpected and should be logged with its stack. */
  unexpected: boolean;
}

/**
 * Maps anything thrown in a request to the response the client sees. Pure: the error middleware and
 * its unit tests share it. Unknown errors become a generic 500 that reveals nothing.
 */
export function toErrorResponse(error: unknown): ErrorResponse {
  if (error instanceof AppError) {
    return {
      status: error.status,
      body: { error: { message: error.message, type: error.type, code: error.code, ...detailsOf(error) } },
      headers: error.headers,
      unexpected: false,
    };
  }
  if (error instanceof ZodError) {
    const lines = describeZodIssues(error);
    return {
      status: 400,
      body: {
        error: {
          message: `Invalid request: ${lines.join('; ')}`,
          type: 'invalid_request_error',
          code: 'invalid_request',
          param: error.issues[0]?.path.join('.') || undefined,
          details: error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
        },
      },
      headers: {},
      unexpected: false,
    };
  }
  const status = httpStatusOf(error);
  if (status === 413) {
    return simple(413, 'request_too_large', 'Request body is too large', 'invalid_request_error');
  }
  if (status === 400) {
    return simple(400, 'invalid_request', 'Malformed request', 'invalid_request_error');
  }
  const unstorable = unstorableValue(error);
  if (unstorable) return simple(400, 'invalid_request', unstorable, 'invalid_request_error');
  if (isDatabaseUnavailable(error) || isTemporalUnavailable(error)) {
    return { ...simple(503, 'service_unavailable', 'The service is temporarily unavailable, retry shortly', 'gateway_error'), headers: { 'retry-after': '1' }, unexpected: true };
  }
  return { ...simple(500, 'internal_error', 'Internal error', 'gateway_error'), unexpected: true };
}

function simple(status: number, code: string, message: string, type: ErrorType): ErrorResponse {
  return { status, body: { error: { message, type, code } }, headers: {}, unexpected: false };
}

function detailsOf(error: AppError): { details?: unknown } {
  return error.details === undefined ? {} : { details: error.details };
}

function httpStatusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const candidate = (error as { status?: unknown; statusCode?: unknown }).status ?? (error as { statusCode?: unknown }).statusCode;
  return typeof candidate === 'number' ? candidate : undefined;
}

/** Errors of the Temporal client that mean the server, not the request, is in trouble. */
const TEMPORAL_OUTAGE_NAMES = new Set(['ServiceError', 'ConnectionError', 'NamespaceNotFoundError', 'WorkflowUpdateRPCTimeoutOrCancelledError']);

/**
 * Temporal unreachable, overloaded or failing inside (gRPC DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED,
 * INTERNAL, UNAVAILABLE). A dev server whose SQLite broke down answered INTERNAL and "namespace not
 * found": a 503 to retry, not a 500.
 */
function isTemporalUnavailable(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current && typeof current === 'object'; depth++) {
    const code = (current as { code?: unknown }).code;
    const name = (current as { name?: unknown }).name;
    if ((typeof name === 'string' && TEMPORAL_OUTAGE_NAMES.has(name)) || (typeof code === 'number' && [4, 8, 13, 14].includes(code))) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * PostgreSQL refused a value the client sent, and why, or null. Text and jsonb can't hold U+0000 (22021
 * as a parameter, 22P05 in jsonb; inlined in a query it cuts the protocol message short: 08P01 "invalid
 * message format"), jsonb refuses an unpaired surrogate (22P02/22P05), and a timestamp refuses year 0
 * (22008). Our own SQL and dates hold none of these, so only client values reach them, e.g. a `%00` in
 * an id or `?from=0000-01-01T00:00:00Z`.
 */
function unstorableValue(error: unknown): string | null {
  if (typeof error !== 'object' || error === null) return null;
  const { code, message, detail } = error as { code?: unknown; message?: unknown; detail?: unknown };
  const text = `${String(message ?? '')} ${String(detail ?? '')}`;
  if (code === '22008') return 'A date in the request is out of range';
  if (
    code === '22021' ||
    code === '22P05' ||
    (code === '22P02' && /unicode|surrogate/i.test(text)) ||
    (code === '08P01' && /invalid message format/.test(text))
  ) {
    return 'The request holds text that cannot be stored (a NUL character or an unpaired surrogate)';
  }
  return null;
}

/** Connection-level database failures: the client may retry, it is not its fault. */
function isDatabaseUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  const name = (error as { name?: unknown }).name;
  return (
    code === 'ECONNREFUSED' ||
    code === 'ECONNRESET' ||
    code === '57P01' ||
    code === '57P03' ||
    name === 'ConnectionException' ||
    (error instanceof Error && /Timeout acquiring a connection|Connection terminated/i.test(error.message))
  );
}

export const errors = {
  notFound: (code: string, message: string) => new AppError(404, code, message, 'gateway_error'),
  invalid: (message: string, details?: unknown) => new AppError(400, 'invalid_request', message, 'invalid_request_error', details),
  unauthorized: (message = 'Invalid or missing API key') => new AppError(401, 'invalid_api_key', message, 'authentication_error'),
  forbidden: (code: string, message: string) => new AppError(403, code, message, 'permission_error'),
  conflict: (code: string, message: string) => new AppError(409, code, message, 'gateway_error'),
  insufficientCredits: () => new AppError(402, 'insufficient_credits', 'Insufficient credits', 'gateway_error'),
  budgetExceeded: () => new AppError(402, 'budget_exceeded', "This API key's budget is exhausted", 'gateway_error'),
};
