import { Readable } from 'node:stream';
import { modelAllowed } from '../../src/http/auth';
import { mp4Bytes, pngBytes, wavBytes } from '../../src/media';
import { peekStream, sniffMediaType, storedContentType } from '../../src/media/sniff';
import { etagMatches, parseRange } from '../../src/modules/assets/asset-http';
import { classifyHttpError } from '../../src/modules/chat/upstream';
import { decodeDataUri } from '../../src/net/data-uri';
import { AssetTooLargeError } from '../../src/storage/asset-store';

describe('content sniffing', () => {
  const png = pngBytes({ width: 4, height: 4, seed: 's' });
  const mp4 = mp4Bytes({ seconds: 1, seed: 's' });
  const wav = wavBytes({ seconds: 1, seed: 's' });
  const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');
  const html = Buffer.from('<!doctype html><script>alert(1)</script>');

  it('recognises the allowlisted media by their magic bytes only', () => {
    expect(sniffMediaType(png)).toBe('image/png');
    expect(sniffMediaType(mp4)).toBe('video/mp4');
    expect(sniffMediaType(wav)).toBe('audio/wav');
    expect(sniffMediaType(Buffer.from([0xff, 0xd8, 0xff, 0xe0]))).toBe('image/jpeg');
    expect(sniffMediaType(Buffer.from('GIF89a...'))).toBe('image/gif');
    expect(sniffMediaType(Buffer.from('RIFF\0\0\0\0WEBPVP8 '))).toBe('image/webp');
    expect(sniffMediaType(Buffer.from('ID3\x04'))).toBe('audio/mpeg');
    for (const other of [svg, html, Buffer.from('%PDF-1.7'), Buffer.from('{"a":1}'), Buffer.alloc(0)]) expect(sniffMediaType(other)).toBeUndefined();
  });

  it('stores a file as its proven type only when the task kind allows it; otherwise octet-stream', () => {
    expect(storedContentType('image', png)).toBe('image/png');
    expect(storedContentType('video', mp4)).toBe('video/mp4');
    expect(storedContentType('music', wav)).toBe('audio/wav');
    expect(storedContentType('music', mp4)).toBe('audio/mp4');
    expect(storedContentType('image', svg)).toBe('application/octet-stream');
    expect(storedContentType('image', html)).toBe('application/octet-stream');
    expect(storedContentType('image', mp4)).toBe('application/octet-stream');
    expect(storedContentType('music', png)).toBe('application/octet-stream');
  });

  it('peeks at the first bytes of a stream and still hands over every byte', async () => {
    const pieces = [Buffer.from('ab'), Buffer.from('cdefgh'), Buffer.from('ijk')];
    const { head, body } = await peekStream(Readable.from(pieces), 5);
    expect(head.toString()).toBe('abcde');
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('abcdefghijk');
    const short = await peekStream(Readable.from([Buffer.from('xy')]), 5);
    expect(short.head.toString()).toBe('xy');
  });
});

describe('Range and ETag', () => {
  it('reads one range as RFC 9110 says, ignores what it cannot read, and refuses what lies outside', () => {
    expect(parseRange(undefined, 100)).toEqual({ kind: 'whole' });
    expect(parseRange('bytes=0-9', 100)).toEqual({ kind: 'part', range: { start: 0, end: 9 } });
    expect(parseRange('bytes=90-', 100)).toEqual({ kind: 'part', range: { start: 90, end: 99 } });
    expect(parseRange('bytes=-10', 100)).toEqual({ kind: 'part', range: { start: 90, end: 99 } });
    expect(parseRange('bytes=-1000', 100)).toEqual({ kind: 'part', range: { start: 0, end: 99 } });
    expect(parseRange('bytes=50-1000', 100)).toEqual({ kind: 'part', range: { start: 50, end: 99 } });
    for (const ignored of ['bytes=9-0', 'bytes=0-1,5-6', 'items=0-1', 'bytes=-', 'bytes=a-b', `bytes=0-${'9'.repeat(30)}`]) {
      expect({ ignored, ask: parseRange(ignored, 100) }).toEqual({ ignored, ask: { kind: 'whole' } });
    }
    expect(parseRange('bytes=100-', 100)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=-0', 100)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=0-', 0)).toEqual({ kind: 'unsatisfiable' });
  });

  it('matches If-None-Match lists, weak tags and the star', () => {
    expect(etagMatches('"abc"', '"abc"')).toBe(true);
    expect(etagMatches('"x", W/"abc"', '"abc"')).toBe(true);
    expect(etagMatches('*', '"abc"')).toBe(true);
    expect(etagMatches('"abcd"', '"abc"')).toBe(false);
    expect(etagMatches(undefined, '"abc"')).toBe(false);
  });
});

describe('data: URIs', () => {
  it('decodes base64 and percent-encoded payloads, and refuses one past the cap', () => {
    expect(decodeDataUri('data:image/png;base64,AAEC')).toEqual(Buffer.from([0, 1, 2]));
    expect(decodeDataUri('data:text/plain,a%20b%ff')).toEqual(Buffer.from([0x61, 0x20, 0x62, 0xff]));
    expect(decodeDataUri('https://example.com/x.png')).toBeUndefined();
    expect(() => decodeDataUri(`data:image/png;base64,${Buffer.alloc(300).toString('base64')}`, 299)).toThrow(AssetTooLargeError);
    expect(decodeDataUri(`data:image/png;base64,${Buffer.alloc(300).toString('base64')}`, 300)).toHaveLength(300);
  });
});

describe('model wildcards and Unicode', () => {
  it('never lets a wildcard match a look-alike or zero-width id; exact entries stay exact', () => {
    const allowed = ['gpt-*', 'flux-*-pro', 'sora-2'];
    expect(modelAllowed(allowed, 'gpt-4o')).toBe(true);
    expect(modelAllowed(allowed, 'flux-1.1-pro')).toBe(true);
    for (const id of ['gpt-4\u043e', 'gpt-4o\u200b', 'gpt-\u200d4o', 'gpt-4o\u00a0', 'flux-\u0131-pro', 'gpt-4o\ufeff', 'sora\u20112', 'sora-2\u200b', '\u0261pt-4o', 'gpt-4o\u202e']) {
      expect({ id, allowed: modelAllowed(allowed, id) }).toEqual({ id, allowed: false });
    }
    // An operator who really means a non-ASCII id lists it exactly.
    expect(modelAllowed(['modèle-1'], 'modèle-1')).toBe(true);
    expect(modelAllowed(['mod*'], 'modèle-1')).toBe(false);
  });
});

describe('chat upstream redirects', () => {
  it('are refused with a message that says so, never followed', () => {
    const error = classifyHttpError(302, new Headers({ location: 'http://169.254.169.254/' }), '', (t) => t, 'chat.completions');
    expect(error).toMatchObject({ code: 'bad_response', retryable: true, httpStatus: 302 });
    expect(error.message).toMatch(/redirect \(HTTP 302\), which is not followed/);
  });
});
