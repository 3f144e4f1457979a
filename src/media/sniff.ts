import { Readable } from 'node:stream';
import type { MediaKind } from '../../workflows/types';

/** Bytes read from the start of a file to recognise it. */
export const SNIFF_BYTES = 64;

/** What an asset is stored and served as when it is not a media file of its task's kind. */
export const OPAQUE_CONTENT_TYPE = 'application/octet-stream';

/**
 * The media types an asset may be served inline as, by kind. Nothing here can run script in a browser:
 * SVG, HTML, XML and PDF are absent on purpose.
 */
const ALLOWED: Record<MediaKind, readonly string[]> = {
  image: ['image/png', 'image/jpeg', 'image/gif', 'image/webp'],
  video: ['video/mp4', 'video/quicktime', 'video/webm'],
  music: ['audio/wav', 'audio/mpeg', 'audio/flac', 'audio/ogg', 'audio/mp4'],
};

/** Every type an asset may be served inline as, whatever its task's kind. */
export function isServableInline(contentType: string): boolean {
  return Object.values(ALLOWED).some((types) => types.includes(contentType));
}

const ascii = (head: Buffer, at: number, text: string) => head.subarray(at, at + text.length).toString('latin1') === text;

/** The media type the first bytes of a file prove, from the allowlist only; undefined for anything else. */
export function sniffMediaType(head: Buffer): string | undefined {
  if (head.length >= 8 && head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'image/jpeg';
  if (ascii(head, 0, 'GIF87a') || ascii(head, 0, 'GIF89a')) return 'image/gif';
  if (ascii(head, 0, 'RIFF') && ascii(head, 8, 'WEBP')) return 'image/webp';
  if (ascii(head, 0, 'RIFF') && ascii(head, 8, 'WAVE')) return 'audio/wav';
  if (ascii(head, 4, 'ftyp')) {
    const brand = head.subarray(8, 12).toString('latin1');
    if (brand === 'qt  ') return 'video/quicktime';
    if (brand === 'M4A ' || brand === 'M4B ') return 'audio/mp4';
    return 'video/mp4';
  }
  if (head.length >= 4 && head.readUInt32BE(0) === 0x1a45dfa3) return 'video/webm';
  if (ascii(head, 0, 'fLaC')) return 'audio/flac';
  if (ascii(head, 0, 'OggS')) return 'audio/ogg';
  // MP3: an ID3 tag, or an MPEG audio frame sync (11 set bits, a valid layer).
  if (ascii(head, 0, 'ID3')) return 'audio/mpeg';
  if (head.length >= 2 && head[0] === 0xff && (head[1]! & 0xe0) === 0xe0 && (head[1]! & 0x06) !== 0) return 'audio/mpeg';
  return undefined;
}

/**
 * The content type an output of a `kind` task is stored as: what its bytes prove, when that is an
 * allowed type of the task's kind; otherwise opaque (an SVG, an HTML page, an image from a music task,
 * a file whose bytes contradict everything). The provider's declared type is never trusted alone.
 */
export function storedContentType(kind: MediaKind, head: Buffer): string {
  const sniffed = sniffMediaType(head);
  // An M4A is an audio/mp4 file but many tools write the generic `isom` brand: a music task's ftyp file is audio.
  if (kind === 'music' && sniffed === 'video/mp4') return 'audio/mp4';
  return sniffed && ALLOWED[kind].includes(sniffed) ? sniffed : OPAQUE_CONTENT_TYPE;
}

/** Reads the first `bytes` of a stream and gives back a stream that still starts at its first byte. */
export async function peekStream(body: Readable, bytes = SNIFF_BYTES): Promise<{ head: Buffer; body: Readable }> {
  const iterator = body[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  while (size < bytes) {
    const next = await iterator.next();
    if (next.done) {
      finished = true;
      break;
    }
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    chunks.push(chunk);
    size += chunk.length;
  }
  const start = Buffer.concat(chunks);
  async function* replay(): AsyncGenerator<Buffer> {
    if (start.length > 0) yield start;
    if (finished) return;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    }
  }
  return { head: start.subarray(0, bytes), body: Readable.from(replay(), { objectMode: false }) };
}
