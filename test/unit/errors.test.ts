import { NamespaceNotFoundError } from '@temporalio/client';
import { z } from 'zod';
import { AppError, toErrorResponse } from '../../src/http/errors';

describe('toErrorResponse', () => {
  it('keeps an AppError as it is, with its headers', () => {
    const response = toErrorResponse(new AppError(429, 'rate_limit_exceeded', 'Slow down', 'gateway_error', undefined, { 'retry-after': '3' }));
    expect(response).toMatchObject({ status: 429, headers: { 'retry-after': '3' }, unexpected: false });
    expect(response.body).toEqual({ error: { message: 'Slow down', type: 'gateway_error', code: 'rate_limit_exceeded' } });
  });

  it('names every bad field of a ZodError', () => {
    const schema = z.object({ prompt: z.string(), duration: z.number() });
    const parsed = schema.safeParse({ duration: 'ten' });
    const response = toErrorResponse(parsed.error);
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('invalid_request');
    expect(response.body.error.type).toBe('invalid_request_error');
    expect(response.body.error.message).toContain('prompt');
    expect(response.body.error.message).toContain('duration');
  });

  it('answers 503 with Retry-After when PostgreSQL or Temporal is away', () => {
    const pg = toErrorResponse(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }));
    expect(pg.status).toBe(503);
    expect(pg.body.error.code).toBe('service_unavailable');
    expect(pg.headers['retry-after']).toBe('1');
    const temporal = toErrorResponse(Object.assign(new Error('14 UNAVAILABLE: No connection established'), { name: 'ServiceError', cause: { code: 14 } }));
    expect(temporal.status).toBe(503);
  });

  it('answers 503 when the Temporal server fails inside or has lost its namespace', () => {
    expect(toErrorResponse(new NamespaceNotFoundError('default')).status).toBe(503);
    const internal = Object.assign(new Error('13 INTERNAL: database is locked'), { code: 13 });
    expect(toErrorResponse(Object.assign(new Error('Failed to start workflow'), { name: 'ServiceError', cause: internal })).status).toBe(503);
    expect(toErrorResponse(Object.assign(new Error('wrapped'), { cause: internal })).body.error.code).toBe('service_unavailable');
  });

  it('hides anything unexpected behind a generic 500', () => {
    const response = toErrorResponse(new Error('secret stack detail at /srv/app.js:10'));
    expect(response.status).toBe(500);
    expect(response.unexpected).toBe(true);
    expect(JSON.stringify(response.body)).not.toContain('secret');
    expect(response.body).toEqual({ error: { message: 'Internal error', type: 'gateway_error', code: 'internal_error' } });
  });

  it('maps body parser statuses to the error format', () => {
    expect(toErrorResponse(Object.assign(new Error('too big'), { status: 413 })).body.error.code).toBe('request_too_large');
    expect(toErrorResponse(Object.assign(new Error('bad'), { status: 400 })).body.error.code).toBe('invalid_request');
  });
});
