import type { ByteRange } from '../../storage/asset-store';

/** What a `Range` header asks of a file of `size` bytes: all of it, one range, or nothing it has. */
export type RangeAsk = { kind: 'whole' } | { kind: 'part'; range: ByteRange } | { kind: 'unsatisfiable' };

/**
 * Reads a `Range` header as RFC 9110 section 14 does, for one range: `bytes=a-b`, `bytes=a-`, `bytes=-n`.
 * A header it can't read, or several ranges, is ignored (the whole file, as the RFC allows); a range that
 * starts past the end, or an empty suffix, is unsatisfiable (416). An end past the file is cut to it.
 */
export function parseRange(header: string | undefined, size: number): RangeAsk {
  if (!header) return { kind: 'whole' };
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!match || (match[1] === '' && match[2] === '')) return { kind: 'whole' };
  const [first, last] = [match[1]!, match[2]!];
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'part', range: { start: Math.max(0, size - suffix), end: size - 1 } };
  }
  const start = Number(first);
  const end = last === '' ? Number.MAX_SAFE_INTEGER : Number(last);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return { kind: 'whole' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'part', range: { start, end: Math.min(end, size - 1) } };
}

/** Whether an `If-None-Match` (or `If-Range`) value names `etag`: `*`, or a list, weak or strong. */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}
