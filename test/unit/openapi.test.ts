import { spawn } from 'node:child_process';
import path from 'node:path';
import type Router from '@koa/router';
import { z } from 'zod';
import { createApp, type AppDeps } from '../../src/app';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/log';
import { createMetrics } from '../../src/metrics/metrics';
import { gatewayOpenApiDocument } from '../../src/modules/docs/docs.routes';
import { buildOpenApiDocument, ERROR_SCHEMA_REF, type OperationSpec } from '../../src/modules/docs/openapi';

type Json = Record<string, any>;

const root = path.resolve(__dirname, '../..');
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/**
 * Validates with @seriousme/openapi-schema-validator (the OpenAPI Initiative's JSON Schemas for 2.0-3.2).
 * It is ESM-only and jest loads CommonJS, so it runs in a child Node process reading the document on stdin.
 */
function validateOpenApi(document: unknown): Promise<{ valid: boolean; errors?: unknown; version?: string }> {
  const script = `
    import { Validator } from '@seriousme/openapi-schema-validator';
    let input = '';
    for await (const chunk of process.stdin) input += chunk;
    const validator = new Validator();
    const result = await validator.validate(JSON.parse(input));
    process.stdout.write(JSON.stringify({ ...result, version: validator.version }));`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`validator exited ${code}: ${err}`))));
    child.stdin.end(JSON.stringify(document));
  });
}

/** Every `METHOD /path` the real app routes, read from its routers (the app is built, never started). */
function appRoutes(): string[] {
  const deps = {
    config: loadConfig({ NODE_ENV: 'test', ADMIN_TOKEN: 'unit-test-admin-token' }),
    log: createLogger({ level: 'silent' }),
    metrics: createMetrics({ defaultMetrics: false }),
    orm: {}, temporal: {}, store: {}, box: {}, outbound: {}, limits: {}, invalidation: { subscribe() {} },
  } as unknown as AppDeps;
  const app = createApp(deps);
  const routes = new Set<string>();
  for (const middleware of app.middleware as ({ router?: Router } & ((...args: unknown[]) => unknown))[]) {
    for (const layer of middleware.router?.stack ?? []) {
      for (const method of layer.methods) {
        if (method === 'HEAD' || method === 'OPTIONS') continue;
        routes.add(`${method} ${normalize(String(layer.path))}`);
      }
    }
  }
  return [...routes].sort();
}

/** `/v1/tasks/:taskId` and `/v1/tasks/{task_id}` both become `/v1/tasks/{}`. */
function normalize(routePath: string): string {
  return routePath.replace(/:\w+/g, '{}').replace(/\{[^}]+\}/g, '{}');
}

function documentedOperations(document: Json): { key: string; method: string; path: string; op: Json }[] {
  return Object.entries(document.paths as Record<string, Json>).flatMap(([p, item]) =>
    METHODS.filter((m) => item[m]).map((m) => ({ key: `${m.toUpperCase()} ${normalize(p)}`, method: m, path: p, op: item[m] as Json })));
}

describe('OpenAPI document', () => {
  const document = gatewayOpenApiDocument() as Json;
  const operations = documentedOperations(document);

  test('is a valid OpenAPI 3.1 document', async () => {
    const result = await validateOpenApi(document);
    expect(result.errors).toBeUndefined();
    expect(result).toMatchObject({ valid: true, version: '3.1' });
  });

  test('the validator does reject a broken document (so the check above means something)', async () => {
    const broken = structuredClone(document);
    delete broken.info.version;
    broken.paths['/v1/videos'].post.responses['200'] = { content: {} };
    const result = await validateOpenApi(broken);
    expect(result.valid).toBe(false);
  });

  test('lists every route of the app with its methods, and nothing else', () => {
    const routes = appRoutes();
    const documented = operations.map((o) => o.key).sort();
    // Spot checks: the public, admin and root routes are all seen by the walk over the routers.
    expect(routes).toEqual(expect.arrayContaining([
      'GET /v1/models', 'POST /v1/chat/completions', 'POST /v1/embeddings', 'POST /v1/images/generations', 'POST /v1/videos',
      'POST /v1/music/generations', 'GET /v1/tasks', 'GET /v1/tasks/{}', 'POST /v1/tasks/{}/cancel', 'GET /v1/usage',
      'POST /admin/accounts', 'POST /admin/keys', 'DELETE /admin/keys/{}', 'POST /admin/channels', 'GET /admin/usage',
      'GET /assets/{}', 'GET /healthz', 'GET /openapi.json', 'GET /docs',
    ]));
    expect(routes.filter((r) => !documented.includes(r))).toEqual([]);
    expect(documented.filter((r) => !routes.includes(r))).toEqual([]);
  });

  test('every operation documents its errors with the shared error component', () => {
    const errorSchema = document.components.schemas.Error;
    expect(errorSchema.required).toEqual(['error']);
    expect(errorSchema.properties.error.required).toEqual(['message', 'type', 'code']);
    for (const { key, op } of operations) {
      const statuses = Object.keys(op.responses);
      const errorStatuses = statuses.filter((s) => /^[45]/.test(s));
      expect({ key, success: statuses.filter((s) => s.startsWith('2')).length }).toEqual({ key, success: 1 });
      expect({ key, hasErrors: errorStatuses.includes('500') }).toEqual({ key, hasErrors: true });
      for (const status of errorStatuses) {
        expect({ key, status, ref: op.responses[status].content['application/json'].schema.$ref }).toEqual({ key, status, ref: ERROR_SCHEMA_REF });
      }
    }
  });

  test('each route names the statuses it can answer', () => {
    const statuses = (method: string, p: string) => Object.keys(document.paths[p][method].responses);
    expect(statuses('post', '/v1/videos')).toEqual(['200', '400', '401', '402', '403', '404', '409', '413', '415', '429', '500', '503']);
    expect(statuses('post', '/v1/chat/completions')).toEqual(expect.arrayContaining(['400', '401', '402', '403', '404', '413', '429', '502', '503']));
    expect(statuses('get', '/v1/tasks/{task_id}')).toEqual(expect.arrayContaining(['401', '403', '404', '429']));
    expect(statuses('post', '/admin/accounts')).toEqual(['201', '400', '401', '413', '415', '500', '503']);
    expect(statuses('post', '/admin/accounts/{id}/credits')).toEqual(expect.arrayContaining(['404', '409']));
    expect(statuses('get', '/healthz')).not.toContain('401');
    expect(document.paths['/v1/videos'].post.responses['402'].description).toContain('insufficient_credits');
  });

  test('security: consumer key (bearer or x-api-key) on /v1, the admin bearer on /admin, none elsewhere', () => {
    expect(document.components.securitySchemes).toMatchObject({
      consumerBearer: { type: 'http', scheme: 'bearer' },
      consumerApiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
      adminBearer: { type: 'http', scheme: 'bearer' },
    });
    for (const { key, path: p, op } of operations) {
      // Providers call back without a key: the per-job token in the path is the credential.
      const expected = p.startsWith('/v1/provider-callbacks/') ? [] : p.startsWith('/v1/') ? [{ consumerBearer: [] }, { consumerApiKey: [] }] : p.startsWith('/admin/') ? [{ adminBearer: [] }] : [];
      expect({ key, security: op.security }).toEqual({ key, security: expected });
    }
  });

  test('request bodies are the zod schemas the routes validate with', () => {
    const schemas = document.components.schemas;
    const bodyRef = (method: string, p: string) => document.paths[p][method].requestBody.content['application/json'].schema.$ref;
    expect(bodyRef('post', '/v1/videos')).toBe('#/components/schemas/CreateVideoBody');
    expect(schemas.CreateVideoBody.required).toEqual(['model', 'prompt']);
    expect(schemas.CreateVideoBody.properties.duration).toMatchObject({ type: 'integer', maximum: 600 });
    expect(schemas.CreateKeyBody).toMatchObject({ required: ['account_id'], additionalProperties: false });
    expect(schemas.CreateKeyBody.properties.name.default).toBe('default');
    expect(schemas.CreateChannelBody.properties.provider.enum).toEqual(['openai', 'ark', 'replicate', 'fal', 'mock', 'gemini', 'kling', 'minimax', 'dashscope', 'runway', 'elevenlabs', 'luma', 'stability']);
    expect(schemas.ChatCompletionBody.required).toEqual(expect.arrayContaining(['model', 'messages']));
    expect(schemas.EmbeddingsBody.required).toEqual(expect.arrayContaining(['model', 'input']));
    const listParams = document.paths['/v1/tasks'].get.parameters.map((p: Json) => `${p.in}:${p.name}`);
    expect(listParams).toEqual(expect.arrayContaining(['query:limit', 'query:after', 'query:status']));
    expect(document.paths['/v1/videos'].post.parameters).toEqual([expect.objectContaining({ name: 'Idempotency-Key', in: 'header' })]);
  });

  test('answers are documented and may gain fields', () => {
    const task = document.components.schemas.Task;
    expect(task.required).toEqual(expect.arrayContaining(['id', 'task_id', 'status', 'progress', 'output', 'error', 'credits']));
    expect(task.additionalProperties).toBeUndefined();
    expect(document.components.schemas.TaskList.properties.data.items.$ref).toBe('#/components/schemas/Task');
    expect(document.paths['/v1/chat/completions'].post.responses['200'].content).toHaveProperty(['text/event-stream']);
  });

  test('a table mistake is refused', () => {
    const op: OperationSpec = { method: 'get', path: '/x', operationId: 'x', tag: 't', summary: 's', access: 'public', response: { status: 200, description: 'ok' } };
    const info = { title: 't', version: '1', description: 'd' };
    expect(() => buildOpenApiDocument([op, { ...op, path: '/y' }], info)).toThrow(/Duplicate operationId/);
    expect(() => buildOpenApiDocument([op, { ...op, operationId: 'y' }], info)).toThrow(/listed twice/);
    const clash = { ...op, operationId: 'z', path: '/z', method: 'post' as const, body: { name: 'Body', schema: z.object({ b: z.string() }) } };
    expect(() => buildOpenApiDocument([{ ...clash, operationId: 'w', path: '/w', body: { name: 'Body', schema: z.object({ a: z.string() }) } }, clash], info)).toThrow(/Two different schemas/);
  });
});
