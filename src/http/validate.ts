import type { z } from 'zod';
import type { RequestState } from './middleware';
import { AppError, describeZodIssues } from './errors';

/**
 * Parses a value with a zod schema or throws 400 `invalid_request` naming every bad field.
 * Used in handlers as `const body = parseBody(ctx, CreateVideoBody)`.
 */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, what = 'request'): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) {
    const lines = describeZodIssues(result.error);
    throw new AppError(400, 'invalid_request', `Invalid ${what}: ${lines.join('; ')}`, 'invalid_request_error',
      result.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })));
  }
  return result.data;
}

export function parseBody<S extends z.ZodType>(ctx: { state: unknown }, schema: S): z.infer<S> {
  return parseWith(schema, (ctx.state as RequestState).body, 'request body');
}

export function parseQuery<S extends z.ZodType>(ctx: { query: unknown }, schema: S): z.infer<S> {
  return parseWith(schema, ctx.query, 'query');
}
