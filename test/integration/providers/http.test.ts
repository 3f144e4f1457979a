/** The shared HTTP helpers of the adapters (pure functions; kept with the adapter tests). */
import {
  buildModelInput,
  guessContentType,
  joinUrl,
  parseDataUri,
  retryAfterMs,
  scrub,
} from '../../../src/providers/http';
import { REPLICATE_INPUT_KEYS } from '../../../src/providers/replicate/mapping';
import { mediaRequest } from './helpers';

describe('scrub', () => {
  const key = 'sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdEFGH';

  it('removes the key, its fragments, Authorization values and key-like tokens', () => {
    const out = scrub(
      `bad key ${key}; again ${key.slice(5, 30)}; Authorization: Bearer ${key}; "authorization":"Key abc:def"; other sk-live-XYZ123456 and r8_AbCdEfGhIjKlMnOpQrStUvWx and Bearer eyJhbGciOiJIUzI1NiJ9.payload`,
      [key],
    );
    expect(out).not.toContain(key.slice(5, 30));
    expect(out).not.toContain('sk-live-XYZ123456');
    expect(out).not.toContain('r8_AbCd');
    expect(out).not.toContain('eyJhbGciOiJIUzI1NiJ9');
    expect(out).not.toContain('abc:def');
    expect(out).toContain('[redacted]');
  });

  it('removes both halves of a fal key', () => {
    const fal = '3f1e9c2a-1111-4bbb-8ccc-0123456789ab:0123456789abcdef0123456789abcdef';
    const out = scrub(`id 3f1e9c2a-1111-4bbb-8ccc-0123456789ab secret 0123456789abcdef0123456789abcdef`, [fal]);
    expect(out).toBe('id [redacted] secret [redacted]');
  });

  it('keeps ordinary ids and prose', () => {
    const text =
      'openai video video_68d7512d07848190b3e45da0ecbebcde054b21f8 failed (internal_error): Request id: 0217aa55 at https://api.openai.com/v1/videos; task cgt-20250331175019-68d9t; the token expired';
    expect(scrub(text, ['sk-proj-unrelatedKeyValue123'])).toBe(text);
  });
});

describe('retryAfterMs', () => {
  const h = (init: Record<string, string>) => new Headers(init);
  it('prefers retry-after-ms, then seconds, then an HTTP date', () => {
    expect(retryAfterMs(h({ 'retry-after-ms': '250', 'retry-after': '9' }))).toBe(250);
    expect(retryAfterMs(h({ 'retry-after': '1.5' }))).toBe(1500);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs(h({ 'retry-after': 'Thu, 01 Jan 2026 00:00:30 GMT' }), now)).toBe(30_000);
    expect(retryAfterMs(h({ 'retry-after': 'Wed, 31 Dec 2025 23:00:00 GMT' }), now)).toBe(0);
    expect(retryAfterMs(h({ 'retry-after': 'soon' }))).toBeUndefined();
    expect(retryAfterMs(h({}))).toBeUndefined();
  });
});

describe('small helpers', () => {
  it('guesses content types from extensions, ignoring the query', () => {
    expect(guessContentType('https://x/y/out.PNG?sig=1')).toBe('image/png');
    expect(guessContentType('https://x/y/out.mp4#t=1')).toBe('video/mp4');
    expect(guessContentType('https://x/y/out.mp3')).toBe('audio/mpeg');
    expect(guessContentType('https://x/y/out')).toBeUndefined();
  });

  it('reads data URIs', () => {
    expect(parseDataUri('data:image/webp;base64,AAAA')).toEqual({ contentType: 'image/webp', base64: 'AAAA' });
    expect(parseDataUri('https://x')).toBeUndefined();
  });

  it('joins URLs with one slash', () => {
    expect(joinUrl('http://h/v1/', '/videos')).toBe('http://h/v1/videos');
    expect(joinUrl('http://h/v1', 'videos')).toBe('http://h/v1/videos');
  });

  it('builds model inputs: set fields under their names, null drops, the request fields over the options', () => {
    const input = buildModelInput(
      mediaRequest({ kind: 'video', model: 'a/b', duration: 5, seed: 1, references: { imageUrl: 'u' }, options: { seed: 9, extra: true } }),
      REPLICATE_INPUT_KEYS,
      { duration: null },
      ['duration'],
    );
    expect(input).toEqual({ prompt: 'a red fox in the snow', image: 'u', seed: 1, extra: true });
  });

  it('drops priced keys from the options, renamed ones too, and writes the priced values last', () => {
    const input = buildModelInput(
      mediaRequest({ kind: 'video', model: 'a/b', duration: 5, options: { duration: 12, length_s: 30, num_outputs: 4, style: 'x' } }),
      REPLICATE_INPUT_KEYS,
      { duration: 'length_s' },
      ['duration', 'num_outputs'],
    );
    expect(input).toEqual({ prompt: 'a red fox in the snow', length_s: 5, style: 'x' });
  });
});
