/**
 * Builds the OpenAPI 3.1 document from a route table (operations.ts) and the zod schemas the routes
 * validate with, so the documented request bodies cannot drift from the checked ones. Pure: the same
 * table always gives the same document.
 */
import { z } from 'zod';
import { ErrorBody } from './responses';

export type HttpMethod = 'get' | 'post' | 'patch' | 'delete';

/** Who may call an operation: a consumer key (/v1/*), the admin token (/admin/*) or anyone. */
export type Access = 'consumer' | 'admin' | 'public';

/** A schema that becomes `#/components/schemas/<name>`. */
export interface NamedSchema {
  name: string;
  schema: z.ZodType;
}

/** Statuses an operation may answer with the error format, each with the `code`s it can carry. */
export type ErrorCodes = Partial<Record<400 | 401 | 402 | 403 | 404 | 409 | 413 | 415 | 416 | 429 | 500 | 502 | 503, string[]>>;

/** One row of the route table. */
export interface OperationSpec {
  method: HttpMethod;
  /** OpenAPI path template, e.g. `/v1/tasks/{task_id}`. */
  path: string;
  operationId: string;
  tag: string;
  summary: string;
  description?: string;
  access: Access;
  /** Path parameters' schemas by name; a parameter without one is a plain string. */
  pathParams?: Record<string, z.ZodType>;
  query?: z.ZodObject;
  /** Descriptions of path and query parameters by name. */
  paramDocs?: Record<string, string>;
  /** Accepts an `Idempotency-Key` header. */
  idempotent?: boolean;
  /** Answers with an `ETag` and takes `If-None-Match` (304 when it names the current answer). */
  conditional?: boolean;
  body?: NamedSchema;
  response: {
    status: 200 | 201;
    description: string;
    json?: NamedSchema;
    /** Other media types, with a raw JSON Schema each (SSE, HTML, binary files). */
    other?: Record<string, Record<string, unknown>>;
  };
  /** The route's own errors; those of auth, body parsing and the server are added from `access` and `method`. */
  errors?: ErrorCodes;
}

export interface DocumentInfo {
  title: string;
  version: string;
  description: string;
}

type JsonObject = Record<string, unknown>;

export const ERROR_SCHEMA_REF = '#/components/schemas/Error';

const STATUS_TEXT: Record<number, string> = {
  400: 'Invalid request', 401: 'Unauthenticated', 402: 'Payment required', 403: 'Forbidden', 404: 'Not found',
  409: 'Conflict', 413: 'Request too large', 415: 'Unsupported media type', 416: 'Range not satisfiable', 429: 'Too many requests',
  500: 'Internal error', 502: 'Upstream failed', 503: 'Unavailable',
};

/** Errors every operation of a kind can answer, whatever its handler does (middleware and infrastructure). */
function implicitErrors(op: OperationSpec): ErrorCodes {
  const codes: ErrorCodes = { 500: ['internal_error'], 503: ['service_unavailable'] };
  if (op.access === 'consumer') {
    codes[401] = ['invalid_api_key'];
    codes[403] = ['ip_not_allowed'];
    codes[429] = ['rate_limit_exceeded'];
  }
  if (op.access === 'admin') codes[401] = ['invalid_admin_token'];
  // jsonBody reads every POST and PATCH body, whether the handler wants one or not.
  if (op.method === 'post' || op.method === 'patch') {
    codes[400] = op.body ? ['invalid_request', 'invalid_json'] : ['invalid_json'];
    codes[413] = ['request_too_large'];
    codes[415] = ['unsupported_media_type'];
  }
  return codes;
}

const SECURITY: Record<Access, JsonObject[]> = {
  consumer: [{ consumerBearer: [] }, { consumerApiKey: [] }],
  admin: [{ adminBearer: [] }],
  public: [],
};

/** The OpenAPI 3.1 document of `operations`. Throws on a table mistake (duplicate ids, clashing names). */
export function buildOpenApiDocument(operations: readonly OperationSpec[], info: DocumentInfo): JsonObject {
  const inputs = z.registry<{ id: string }>();
  const outputs = z.registry<{ id: string }>();
  const named = new Map<string, z.ZodType>();
  const register = (target: typeof inputs, entry: NamedSchema) => {
    const known = named.get(entry.name);
    if (known && known !== entry.schema) throw new Error(`Two different schemas are named ${entry.name}`);
    if (!known) {
      named.set(entry.name, entry.schema);
      target.add(entry.schema, { id: entry.name });
    }
  };
  register(outputs, { name: 'Error', schema: ErrorBody });

  const paths: Record<string, Record<string, JsonObject>> = {};
  const operationIds = new Set<string>();
  for (const op of operations) {
    if (operationIds.has(op.operationId)) throw new Error(`Duplicate operationId ${op.operationId}`);
    operationIds.add(op.operationId);
    if (op.body) register(inputs, op.body);
    if (op.response.json) register(outputs, op.response.json);
    const item = (paths[op.path] ??= {});
    if (item[op.method]) throw new Error(`${op.method.toUpperCase()} ${op.path} is listed twice`);
    item[op.method] = operationObject(op);
  }

  return {
    openapi: '3.1.0',
    info: { title: info.title, version: info.version, description: info.description },
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    tags: [...new Set(operations.map((op) => op.tag))].map((name) => ({ name })),
    paths,
    components: {
      schemas: { ...componentSchemas(inputs, 'input'), ...componentSchemas(outputs, 'output') },
      securitySchemes: {
        consumerBearer: { type: 'http', scheme: 'bearer', description: 'A consumer API key: `Authorization: Bearer <key>`' },
        consumerApiKey: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'A consumer API key in the `x-api-key` header' },
        adminBearer: { type: 'http', scheme: 'bearer', description: 'The operator token (`ADMIN_TOKEN`): `Authorization: Bearer <token>`' },
      },
    },
  };
}

/** Request bodies are documented as clients send them (`io: 'input'`), answers as the gateway sends them. */
function componentSchemas(registry: ReturnType<typeof z.registry<{ id: string }>>, io: 'input' | 'output'): Record<string, JsonObject> {
  const { schemas } = z.toJSONSchema(registry, {
    io,
    unrepresentable: 'any',
    uri: (id) => `#/components/schemas/${id}`,
    // Answers may gain fields without a new API version: clients must not reject unknown ones.
    override: ({ jsonSchema }) => {
      if (io === 'output' && jsonSchema.additionalProperties === false) delete jsonSchema.additionalProperties;
    },
  }) as { schemas: Record<string, JsonObject> };
  // Shared $defs would resolve against the document root, not the component: keep every schema self-contained.
  if ('__shared' in schemas) throw new Error('A schema would need shared $defs; register it by name instead');
  return Object.fromEntries(Object.entries(schemas).map(([name, schema]) => [name, stripDialect(schema)]));
}

/** A field schema for a parameter, without the document-level keywords z.toJSONSchema adds. */
function fieldSchema(schema: z.ZodType): JsonObject {
  return stripDialect(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonObject);
}

function stripDialect(schema: JsonObject): JsonObject {
  const { $schema: _dialect, $id: _id, ...rest } = schema;
  return rest;
}

function operationObject(op: OperationSpec): JsonObject {
  const parameters: JsonObject[] = [];
  for (const name of pathParamNames(op.path)) {
    const schema = op.pathParams?.[name];
    parameters.push(parameter(name, 'path', true, schema ? fieldSchema(schema) : { type: 'string' }, op.paramDocs?.[name]));
  }
  if (op.query) {
    const query = fieldSchema(op.query) as { properties?: Record<string, JsonObject>; required?: string[] };
    for (const [name, schema] of Object.entries(query.properties ?? {})) {
      parameters.push(parameter(name, 'query', query.required?.includes(name) ?? false, schema, op.paramDocs?.[name]));
    }
  }
  if (op.idempotent) {
    parameters.push(parameter('Idempotency-Key', 'header', false, { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7e]+$' },
      'Makes a retried request return the first answer (and charge once); reusing it with another body is a 409'));
  }

  if (op.conditional) {
    parameters.push(parameter('If-None-Match', 'header', false, { type: 'string' },
      'The `ETag` of an earlier answer (or a comma-separated list, or `*`): 304 with no body while the answer is the same'));
  }

  const success: JsonObject = { description: op.response.description };
  if (op.conditional) success.headers = { ETag: { description: 'Strong entity tag of this answer', schema: { type: 'string' } } };
  const content: JsonObject = {};
  if (op.response.json) content['application/json'] = { schema: { $ref: `#/components/schemas/${op.response.json.name}` } };
  Object.assign(content, Object.fromEntries(Object.entries(op.response.other ?? {}).map(([type, schema]) => [type, { schema }])));
  if (Object.keys(content).length > 0) success.content = content;

  return {
    operationId: op.operationId,
    tags: [op.tag],
    summary: op.summary,
    ...(op.description ? { description: op.description } : {}),
    security: SECURITY[op.access],
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: { $ref: `#/components/schemas/${op.body.name}` } } } } } : {}),
    responses: {
      [String(op.response.status)]: success,
      ...(op.conditional ? { 304: { description: 'Not Modified: the answer is still the one `If-None-Match` names (no body)', headers: success.headers } } : {}),
      ...errorResponses(op),
    },
  };
}

function parameter(name: string, where: 'path' | 'query' | 'header', required: boolean, schema: JsonObject, description?: string): JsonObject {
  const { description: fromSchema, ...rest } = schema;
  const text = description ?? (typeof fromSchema === 'string' ? fromSchema : undefined);
  return { name, in: where, required, ...(text ? { description: text } : {}), schema: rest };
}

function pathParamNames(path: string): string[] {
  return [...path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]!);
}

function errorResponses(op: OperationSpec): Record<string, JsonObject> {
  const merged = new Map<number, Set<string>>();
  for (const codes of [implicitErrors(op), op.errors ?? {}]) {
    for (const [status, list] of Object.entries(codes)) {
      const set = merged.get(Number(status)) ?? new Set<string>();
      for (const code of list ?? []) set.add(code);
      merged.set(Number(status), set);
    }
  }
  return Object.fromEntries([...merged.entries()].sort(([a], [b]) => a - b).map(([status, codes]) => [
    String(status),
    {
      description: `${STATUS_TEXT[status] ?? 'Error'}: ${[...codes].map((code) => `\`${code}\``).join(', ')}`,
      ...(status === 429 || status === 503 ? { headers: { 'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer' } } } } : {}),
      content: { 'application/json': { schema: { $ref: ERROR_SCHEMA_REF } } },
    },
  ]));
}
