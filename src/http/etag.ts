import { createHash } from 'node:crypto';

/**
 * A strong entity tag for a response body: the same bytes always give the same tag, so a poller's
 * `If-None-Match` matches until the answer changes (in any field, not just the status).
 */
export function etagOf(body: Buffer | string): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
}

/** An entity tag as RFC 9110 spells it: optional `W/`, then a quoted string of visible characters. */
const ENTITY_TAG = /^(?:W\/)?"[\x21\x23-\x7e\x80-\xff]*"$/;

/**
 * Whether `If-None-Match` names `etag`: `*`, or a comma-separated list of entity tags compared weakly
 * (RFC 9110 13.1.2: `W/"x"` matches `"x"`). A header that is not a valid list matches nothing, so a
 * malformed value costs the client a full answer, never a wrong 304.
 */
export function ifNoneMatchMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  const value = header.trim();
  if (value === '*') return true;
  const opaque = etag.replace(/^W\//, '');
  let matched = false;
  for (const raw of value.split(',')) {
    const tag = raw.trim();
    if (tag === '') continue;
    if (!ENTITY_TAG.test(tag)) return false;
    if (tag.replace(/^W\//, '') === opaque) matched = true;
  }
  return matched;
}
