/**
 * Output files as rough as the internet hands them out: on another host name than the API, behind
 * redirects (one of them to 127.0.0.2, an address the tests' OUTBOUND_ALLOWLIST does not cover), as
 * `data:` URIs, as SVG or HTML with script, huge, or cut half-way. Every fake takes them through
 * `JobPlan.serve`; the gateway must copy the good ones and refuse the others.
 */
import type http from 'node:http';

/** How a job's output files are handed out and served (every field optional; the default is a plain file). */
export interface OutputServing {
  /**
   * Where the file's URL points: `self` (the fake's `127.0.0.1`), `other-host` (`localhost`, the same
   * server under another name), or `private` (the fake's trap on 127.0.0.2, which records every hit).
   */
  host?: 'self' | 'other-host' | 'private';
  /** Redirects (302) before the file; the first on the fake itself, the last to `host`. */
  redirects?: number;
  /** The URL is a `data:` URI holding the file (base64). */
  dataUri?: boolean;
  /** What the bytes really are, whatever the declared type says: the media, an SVG or an HTML page with script. */
  content?: 'media' | 'svg' | 'html';
  /** The declared content type (default the media's, or the SVG's / HTML's own). */
  contentType?: string;
  /**
   * `huge`: `hugeBytes` (default 8 MiB) of the media padded, sent without a Content-Length;
   * `huge-declared`: the same with its Content-Length; `truncated`: every download cut half-way;
   * `truncated-once`: the first download cut half-way, the next ones whole.
   */
  body?: 'whole' | 'huge' | 'huge-declared' | 'truncated' | 'truncated-once';
  hugeBytes?: number;
}

/** Size of a `huge` file unless `hugeBytes` says otherwise. */
const HUGE_BYTES = 8 * 1024 * 1024;

export const SVG_WITH_SCRIPT = Buffer.from(
  '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><script>fetch("/admin/keys")</script><rect width="8" height="8"/></svg>',
);
export const HTML_WITH_SCRIPT = Buffer.from('<!doctype html><html><body><script>document.cookie</script>not an image</body></html>');

/** The bytes and declared type of a file whose media bytes are `media` (of type `mediaType`). */
export function roughContent(serve: OutputServing | undefined, media: Buffer, mediaType: string): { bytes: Buffer; contentType: string } {
  const content = serve?.content ?? 'media';
  let bytes = content === 'svg' ? SVG_WITH_SCRIPT : content === 'html' ? HTML_WITH_SCRIPT : media;
  // A huge data: URI holds all its bytes: there is no stream to pad.
  if (serve?.dataUri && serve.body?.startsWith('huge')) bytes = Buffer.concat([bytes, Buffer.alloc((serve.hugeBytes ?? HUGE_BYTES) - bytes.length)]);
  const natural = content === 'svg' ? 'image/svg+xml' : content === 'html' ? 'text/html; charset=utf-8' : mediaType;
  return { bytes, contentType: serve?.contentType ?? natural };
}

/** The URL a file is handed out under. `path` is the file's path and query on any of the fake's origins. */
export function roughUrl(serve: OutputServing | undefined, origins: { self: string; otherHost: string; private: string }, path: string, file: { bytes: Buffer; contentType: string }): string {
  if (serve?.dataUri) return `data:${file.contentType};base64,${file.bytes.toString('base64')}`;
  const host = serve?.host ?? 'self';
  const target = host === 'other-host' ? origins.otherHost : host === 'private' ? origins.private : origins.self;
  const redirects = serve?.redirects ?? 0;
  if (redirects === 0) return `${target}${path}`;
  return `${origins.self}/redirect/${redirects}/${encodeURIComponent(target)}${path}`;
}

/** Answers `/redirect/<n>/<target origin><path>`: one hop nearer to the file each time. */
export function answerRedirect(res: http.ServerResponse, pathname: string, search: string, selfOrigin: string): void {
  const match = /^\/redirect\/(\d+)\/([^/]+)(\/.*)$/.exec(pathname);
  if (!match) {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('Not Found');
    return;
  }
  const left = Number(match[1]) - 1;
  const target = decodeURIComponent(match[2]!);
  const location = left > 0 ? `${selfOrigin}/redirect/${left}/${match[2]}${match[3]}${search}` : `${target}${match[3]}${search}`;
  res.writeHead(302, { location, 'content-length': 0 });
  res.end();
}

/** Serves a file's body as `serve.body` says; `downloads` is how many times it was served before. */
export function serveRoughBody(res: http.ServerResponse, head: boolean, serve: OutputServing | undefined, file: { bytes: Buffer; contentType: string }, downloads: number): void {
  const mode = serve?.body ?? 'whole';
  if (mode === 'huge' || mode === 'huge-declared') {
    const total = serve?.hugeBytes ?? HUGE_BYTES;
    res.writeHead(200, { 'content-type': file.contentType, ...(mode === 'huge-declared' ? { 'content-length': total } : {}) });
    if (head) return void res.end();
    streamPadded(res, file.bytes, total);
    return;
  }
  res.writeHead(200, { 'content-type': file.contentType, 'content-length': file.bytes.length });
  if (head) return void res.end();
  const cut = mode === 'truncated' || (mode === 'truncated-once' && downloads === 0);
  if (!cut) return void res.end(file.bytes);
  // Half the promised bytes, then the connection drops: the client sees a short body.
  res.write(file.bytes.subarray(0, Math.floor(file.bytes.length / 2)), () => res.destroy());
}

/** Writes `start` then zeros up to `total` bytes, as fast as the client reads, stopping when it leaves. */
function streamPadded(res: http.ServerResponse, start: Buffer, total: number): void {
  let sent = 0;
  const chunk = Buffer.alloc(64 * 1024);
  const pump = () => {
    while (sent < total && !res.destroyed) {
      const piece = sent === 0 ? start : chunk.subarray(0, Math.min(chunk.length, total - sent));
      sent += piece.length;
      if (!res.write(piece)) return void res.once('drain', pump);
    }
    if (!res.destroyed) res.end();
  };
  res.on('close', () => (sent = total));
  pump();
}
