/**
 * fast-check arbitraries for hostile HTTP requests: random JSON, valid-looking bodies with one field of
 * the wrong type, huge strings, deep nesting, invalid UTF-8, wrong content types, garbage headers and
 * path segments (`..`, `%00`, unicode). Every generated case prints as one short line, so a failing run
 * names its counterexample without dumping a megabyte of body.
 */
import fc from 'fast-check';
import type { RawRequest } from './raw-http';

/** A body as the client sends it: bytes and the content-type label (undefined: no header). */
export interface FuzzBody {
  kind: string;
  bytes: Buffer | undefined;
  contentType: string | undefined;
}

/** One generated request, ready for `rawRequest`, with a one-line description. */
export interface FuzzCase extends RawRequest {
  route: string;
  bodyKind: string;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Strings that have broken parsers, databases and loggers before. */
export const NASTY_STRINGS = [
  '', ' ', '\u0000', 'a\u0000b', '\ud800', 'x\udfffy', '\ufeff', '\u202e\u0644\u0627', '\r\n', '\\', '"', "'",
  '../../etc/passwd', '..\\..\\windows', '%00', '%', '${7*7}', '{{7*7}}', "'; drop table tasks; --", '<script>alert(1)</script>',
  '__proto__', 'constructor', 'NaN', 'Infinity', '-0', '1e999', '0x10', 'true', 'null', '[]', '{}', '😀'.repeat(3), 'e\u0301',
  'task_', 'task_' + 'a'.repeat(64), 'acct_', 'http://169.254.169.254/', 'file:///etc/passwd', 'javascript:alert(1)',
  '0000-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '2024-02-30T00:00:00Z', '2024-01-01T00:00:00+99:99', 'http://[::1]/', 'http://2130706433/',
];

/** Short strings of every kind: printable, any code point, control bytes and the nasty list. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
);

/** Values of every JSON type, with the numbers that break integer columns and the strings above. */
export const wrongTypeValue: fc.Arbitrary<Json> = fc.oneof(
  hostileString,
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(
    -1, 0, 0.5, 1.5, -0.000001, 2 ** 31, 2 ** 53, 2 ** 53 + 2, 2 ** 63, -(2 ** 63), 1e21, 1e308, -1e308, 5e-324,
    Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 8_640_000_000_001, 253_402_300_800,
  ),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>, { maxLength: 4 }),
  fc.dictionary(hostileString, fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>, { maxKeys: 4 }),
);

/** Lengths around the limits: prompt 20,000 characters, URLs 4,096, body 1,000,000 bytes. */
const HUGE_LENGTHS = [4097, 20_001, 65_537, 200_000, 999_000, 1_000_001, 1_400_000];

/** A long string of one repeated character (ASCII, multi-byte or astral). */
export const hugeString: fc.Arbitrary<string> = fc
  .tuple(fc.constantFrom(...HUGE_LENGTHS), fc.constantFrom('x', 'é', '😀', ' ', '\u0000'))
  .map(([length, char]) => char.repeat(Math.max(1, Math.floor(length / char.length))));

/** Invalid UTF-8: stray continuation bytes, overlong forms, encoded surrogates, 0xff. */
export const invalidUtf8Bytes: fc.Arbitrary<Buffer> = fc
  .array(fc.constantFrom([0xff], [0xfe], [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0x80], [0xc3], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xf4, 0x90, 0x80, 0x80]), { minLength: 1, maxLength: 6 })
  .map((parts) => Buffer.from(parts.flat()));

/** Content types a confused or hostile client sends; undefined means no header at all. */
export const contentType: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 4, arbitrary: fc.constant('application/json') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      undefined, 'application/json; charset=utf-8', 'application/json; charset=utf-16', 'text/plain', 'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=----fuzz', 'application/xml', 'text/html', '*/*', 'application/octet-stream', 'garbage', ';;;',
    ),
  },
);

function jsonBytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

function withType(kind: string, bytes: Buffer | undefined): fc.Arbitrary<FuzzBody> {
  return contentType.map((type) => ({ kind, bytes, contentType: bytes === undefined ? undefined : type }));
}

/** `{...}` nested `depth` levels deep as raw JSON text (built as text: JSON.stringify would itself recurse). */
export function deepJson(depth: number, shape: 'object' | 'array'): string {
  return shape === 'object' ? `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}` : `${'['.repeat(depth)}1${']'.repeat(depth)}`;
}

/**
 * Bodies for a route whose valid body looks like `template` (undefined for routes without a body).
 * Mostly near-misses of the template, then random JSON and raw garbage.
 */
export function fuzzBody(template: Record<string, Json> | undefined): fc.Arbitrary<FuzzBody> {
  const base: Record<string, Json> = template ?? { name: 'x' };
  const fields = [...Object.keys(base), 'options', 'metadata', 'unknown_field'];
  const field = fc.constantFrom(...fields);
  const near = (kind: string, arb: fc.Arbitrary<Record<string, Json>>) => arb.chain((value) => withType(kind, jsonBytes(value)));
  return fc.oneof(
    { weight: 4, arbitrary: near('wrong-type', fc.tuple(field, wrongTypeValue).map(([name, value]) => ({ ...base, [name]: value }))) },
    { weight: 1, arbitrary: near('missing-field', field.map((name) => Object.fromEntries(Object.entries(base).filter(([key]) => key !== name)))) },
    { weight: 2, arbitrary: near('nasty-strings', fc.tuple(field, hostileString).map(([name, value]) => ({ ...base, [name]: value }))) },
    { weight: 1, arbitrary: near('valid', fc.constant(base)) },
    { weight: 2, arbitrary: (fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<Json>).chain((value) => withType('random-json', jsonBytes(value))) },
    { weight: 2, arbitrary: fc.tuple(field, hugeString).chain(([name, value]) => withType(`huge-${name}-${value.length}`, jsonBytes({ ...base, [name]: value }))) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(field, fc.constantFrom(40, 101, 1000, 20_000, 150_000), fc.constantFrom<'object' | 'array'>('object', 'array'))
        .chain(([name, depth, shape]) => {
          const text = JSON.stringify({ ...base, [name]: '__DEEP__' }).replace('"__DEEP__"', deepJson(depth, shape));
          return withType(`deep-${shape}-${depth}`, Buffer.from(text, 'utf8'));
        }),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(field, invalidUtf8Bytes).chain(([name, bad]) => {
        const [before, after] = JSON.stringify({ ...base, [name]: '__BAD__' }).split('__BAD__') as [string, string];
        return withType('invalid-utf8', Buffer.concat([Buffer.from(before), bad, Buffer.from(after)]));
      }),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom('{"__proto__":{"admin":true,"balance":1e9}', '{"constructor":{"prototype":{"admin":true}}', '{"__proto__":null')
        .chain((head) => withType('prototype', Buffer.from(`${head},${JSON.stringify(base).slice(1)}`, 'utf8'))),
    },
    {
      weight: 2,
      arbitrary: fc
        .oneof(
          fc.constantFrom('', '{', '{"model":', 'null', '[]', '"str"', '1e999', '{"a":1,}', "{'a':1}", 'model=x&prompt=y', '<xml/>', '\u0000', '{"a":"\\ud800"}', '{"a":"\\u0000"}'),
          fc.string({ unit: 'binary-ascii', maxLength: 200 }),
        )
        .chain((text) => withType('garbage-text', Buffer.from(text, 'utf8'))),
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).chain((bytes) => withType('random-bytes', Buffer.from(bytes))) },
    { weight: 1, arbitrary: fc.constant<FuzzBody>({ kind: 'none', bytes: undefined, contentType: undefined }) },
  );
}

/** Header-safe garbage (node refuses CR, LF and NUL in header values): tab, printable ASCII and Latin-1. */
export const headerGarbage: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), maxLength: 60 }),
  fc.string({ unit: fc.integer({ min: 0x80, max: 0xff }).map((code) => String.fromCharCode(code)), minLength: 1, maxLength: 20 }),
  fc.constantFrom('\t', ' ', ',', ';', '%00', '..', 'null', 'undefined', '0', '-1', 'x'.repeat(300), 'x'.repeat(5000)),
);

/** Garbage where the gateway reads an IP: malformed addresses, huge chains, v6, private ranges. */
export const forwardedForGarbage: fc.Arbitrary<string> = fc.oneof(
  headerGarbage,
  fc.constantFrom('127.0.0.1', '::1', '10.0.0.1, 8.8.8.8', '999.1.1.1', '1.2.3', '::ffff:127.0.0.1', 'unknown', ', , ,', '[::1]:80', `${'1.1.1.1,'.repeat(500)}1.1.1.1`),
  fc.array(fc.ipV4(), { minLength: 1, maxLength: 8 }).map((ips) => ips.join(', ')),
  fc.ipV6(),
);

/**
 * Headers of one request: an Authorization (or x-api-key) that is sometimes right and often garbage,
 * plus garbage Idempotency-Key, X-Forwarded-For, X-Request-Id and odd framing headers.
 */
export function fuzzHeaders(credentials: { good: string[]; other: string[] }): fc.Arbitrary<Record<string, string>> {
  const authorization = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...credentials.good).map((key) => ({ authorization: `Bearer ${key}` })) },
    { weight: 1, arbitrary: fc.constantFrom(...credentials.good).map((key) => ({ 'x-api-key': key })) },
    { weight: 1, arbitrary: fc.constantFrom(...credentials.other).map((key) => ({ authorization: `Bearer ${key}` })) },
    { weight: 1, arbitrary: fc.constant({}) },
    {
      weight: 2,
      arbitrary: fc.oneof(
        headerGarbage.map((garbage) => ({ authorization: garbage })),
        headerGarbage.map((garbage) => ({ authorization: `Bearer ${garbage}` })),
        headerGarbage.map((garbage) => ({ 'x-api-key': garbage })),
        fc.constantFrom(...credentials.good).map((key) => ({ authorization: `Bearer ${key}x` })),
        fc.constantFrom(...credentials.good).map((key) => ({ authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}` })),
        fc.constantFrom(...credentials.good).map((key) => ({ authorization: `Bearer ${key.slice(0, -1)}` })),
      ),
    },
  );
  const extras = fc.record(
    {
      'idempotency-key': headerGarbage,
      'x-forwarded-for': forwardedForGarbage,
      'x-request-id': headerGarbage,
      'x-real-ip': forwardedForGarbage,
      'content-encoding': fc.constantFrom('gzip', 'br', 'identity', 'garbage'),
      accept: fc.constantFrom('text/html', 'application/xml', '*/*', 'text/event-stream', 'garbage'),
      expect: fc.constantFrom('100-continue', 'garbage'),
      'x-large-header': fc.constant('x'.repeat(20_000)),
    },
    { requiredKeys: [] },
  );
  return fc.tuple(authorization, extras, fc.nat({ max: 20 })).map(([auth, extra, roll]) => {
    // Rare framing headers: most cases should get past the HTTP parser and reach the app.
    const headers: Record<string, string> = { ...auth, ...extra };
    if (roll !== 0) delete headers['x-large-header'];
    if (roll > 2) delete headers.expect;
    return headers;
  });
}

/** Path segments that have confused routers and file servers, already in wire form. */
export const pathSegment: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '..', '.', '%2e%2e', '%2E%2E%2F', '..%2f..%2fadmin', '%00', 'a%00b', '%', '%zz', '%ff', '%c0%ae%c0%ae', '%e2%80%ae', '%ed%a0%80', '',
      ';', '~', '*', '%20', '+', '%2F', '%5C', 'task_', `task_${'a'.repeat(64)}`, `task_${'a'.repeat(65)}`, 'TASK_ABC', 'task_ABC', 'null', '-1',
      'admin', 'v1', 'cancel', '%3Fwait%3D60', '?', '#', 'x'.repeat(9000),
    ),
  },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }).map((text) => encodeURIComponent(text)) },
  { weight: 1, arbitrary: hostileString.map((text) => encodeURIComponent(text.replace(/[\ud800-\udfff]/g, '\ufffd'))) },
  { weight: 1, arbitrary: fc.stringMatching(/^task_[a-z0-9]{1,20}$/) },
);

/** A query string from known and unknown names with hostile values (and the same name repeated). */
export function queryString(names: string[]): fc.Arbitrary<string> {
  const value = fc.oneof(
    fc.constantFrom('1', '0', '-1', '100', '101', '1e3', '0.5', 'NaN', '', '60', '61', 'succeeded', 'image', '2024-01-01T00:00:00Z', '0000-01-01T00:00:00Z', '9999-12-31T23:59:59Z'),
    pathSegment,
  );
  const pair = fc.tuple(fc.oneof(fc.constantFrom(...names), pathSegment), value).map(([name, v]) => `${name}=${v}`);
  return fc.array(pair, { maxLength: 4 }).map((pairs) => (pairs.length ? `?${pairs.join('&')}` : ''));
}

/** Methods, including ones the router does not expect and one the HTTP parser does not know. */
export const anyMethod = fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE', 'PROPFIND', 'FUZZ');

/** One route of a fuzzed surface: its method, a path arbitrary and the shape of a valid body. */
export interface FuzzRoute {
  name: string;
  method: string;
  path: fc.Arbitrary<string>;
  template?: Record<string, Json>;
}

/**
 * Requests against `routes`: mostly the route's own method with a fuzzed body, sometimes another method,
 * sometimes a path built from hostile segments.
 */
export function fuzzRequest(routes: FuzzRoute[], headers: fc.Arbitrary<Record<string, string>>, prefix: string): fc.Arbitrary<FuzzCase> {
  const known = fc.constantFrom(...routes).chain((route) =>
    fc
      .tuple(fc.oneof({ weight: 5, arbitrary: fc.constant(route.method) }, { weight: 1, arbitrary: anyMethod }), route.path, fuzzBody(route.template), headers)
      .map(([method, path, body, head]) => toCase(route.name, method, path, body, head)),
  );
  const wild = fc
    .tuple(anyMethod, fc.array(pathSegment, { minLength: 1, maxLength: 4 }), queryString(['limit', 'after', 'wait', 'sig']), fuzzBody(undefined), headers)
    .map(([method, segments, query, body, head]) => toCase('wild', method, `${prefix}/${segments.join('/')}${query}`, body, head));
  return fc.oneof({ weight: 4, arbitrary: known }, { weight: 1, arbitrary: wild });
}

function toCase(route: string, method: string, path: string, body: FuzzBody, head: Record<string, string>): FuzzCase {
  const headers = { ...head };
  if (body.contentType !== undefined) headers['content-type'] = body.contentType;
  const fuzzCase: FuzzCase = { route, method, path, headers, body: body.bytes, bodyKind: body.kind };
  return Object.assign(fuzzCase, { [fc.toStringMethod]: () => describeCase(fuzzCase) });
}

/** One line naming the case: method, path (cut), body kind and size, the headers that matter. */
export function describeCase(c: FuzzCase): string {
  const bytes = c.body === undefined ? undefined : Buffer.from(c.body);
  const size = bytes ? bytes.length : 0;
  const preview = bytes ? JSON.stringify(bytes.subarray(0, 120).toString('latin1')) : '';
  const heads = Object.entries(c.headers ?? {})
    .map(([name, value]) => `${name}=${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…(${value.length})` : value)}`)
    .join(' ');
  return `${c.method} ${c.path.length > 120 ? `${c.path.slice(0, 120)}…(${c.path.length})` : c.path} [${c.route}] body=${c.bodyKind}/${size}B ${preview} ${heads}`;
}
