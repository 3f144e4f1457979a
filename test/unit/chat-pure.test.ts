import { chargeFor } from '../../src/modules/chat/chat.billing';
import { attemptOrder, clientError } from '../../src/modules/chat/chat.service';
import {
  chunkTokens,
  DEFAULT_OUTPUT_CAP,
  estimateEmbeddingTokens,
  estimatePromptTokens,
  MEDIA_PART_TOKENS,
  outputCap,
  PER_MESSAGE_OVERHEAD,
  REPLY_PRIMING,
  textTokens,
} from '../../src/modules/chat/token-estimate';
import { classifyHttpError, scrubberFor } from '../../src/modules/chat/upstream';
import { ProviderError } from '../../src/providers/types';
import type { Candidate } from '../../src/routing/candidates';

describe('token estimate', () => {
  it('counts UTF-8 bytes / 4, rounded up', () => {
    expect(textTokens('')).toBe(0);
    expect(textTokens('abcd')).toBe(1);
    expect(textTokens('abcde')).toBe(2);
    // Three bytes per CJK character: closer to one token per character than chars / 4 would be.
    expect(textTokens('你好世界')).toBe(3);
  });

  it('adds a per-message overhead and the reply priming, and counts tools and response_format', () => {
    const messages = [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Hello there!' },
    ];
    const plain = estimatePromptTokens({ messages });
    expect(plain).toBe(REPLY_PRIMING + 2 * PER_MESSAGE_OVERHEAD + textTokens('You are terse.') + textTokens('Hello there!'));
    const tools = [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }];
    expect(estimatePromptTokens({ messages, tools })).toBe(plain + textTokens(JSON.stringify(tools)));
    const format = { type: 'json_object' };
    expect(estimatePromptTokens({ messages, response_format: format })).toBe(plain + textTokens(JSON.stringify(format)));
  });

  it('charges a flat amount per image part instead of the bytes of a data URI', () => {
    const image = { type: 'image_url', image_url: { url: `data:image/png;base64,${'A'.repeat(100_000)}` } };
    const tokens = estimatePromptTokens({ messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this?' }, image] }] });
    expect(tokens).toBe(REPLY_PRIMING + PER_MESSAGE_OVERHEAD + textTokens('what is this?') + MEDIA_PART_TOKENS);
  });

  it('takes the output cap from max_completion_tokens, then max_tokens, then the default, times n', () => {
    expect(outputCap({})).toEqual({ tokens: DEFAULT_OUTPUT_CAP, clientLimited: false });
    expect(outputCap({ max_tokens: 100 })).toEqual({ tokens: 100, clientLimited: true });
    expect(outputCap({ max_tokens: 100, max_completion_tokens: 50 })).toEqual({ tokens: 50, clientLimited: true });
    expect(outputCap({ max_tokens: 100, n: 3 })).toEqual({ tokens: 300, clientLimited: true });
    expect(outputCap({ n: 2 }).tokens).toBe(2 * DEFAULT_OUTPUT_CAP);
  });

  it('estimates embeddings input: strings, lists, token arrays', () => {
    expect(estimateEmbeddingTokens('abcdefgh')).toBe(2);
    expect(estimateEmbeddingTokens(['abcd', 'abcdefgh'])).toBe(3);
    expect(estimateEmbeddingTokens([1, 2, 3])).toBe(3);
    expect(estimateEmbeddingTokens([[1, 2], [3]])).toBe(3);
  });

  it('counts a delivered chunk as at least one token, four characters each, rounded down', () => {
    expect(chunkTokens(0)).toBe(0);
    expect(chunkTokens(1)).toBe(1);
    expect(chunkTokens(7)).toBe(1);
    expect(chunkTokens(8)).toBe(2);
  });
});

describe('billing rule', () => {
  const pricing = { per_1k_input_tokens: 1000, per_1k_output_tokens: 2000 };

  it('charges the price of the real tokens when it fits in the hold', () => {
    expect(chargeFor(pricing, { input: 10, output: 5 }, 100)).toEqual({ charge: 20, price: 20 });
  });

  it('never charges more than the hold', () => {
    expect(chargeFor(pricing, { input: 10, output: 5000 }, 100)).toEqual({ charge: 100, price: 10_010 });
  });
});

describe('routing order', () => {
  const c = (id: string, priority: number, weight = 1): Candidate => ({ id, provider: 'openai', priority, weight, upstreamModel: 'm', settings: {} });

  it('tries higher priorities first, each channel once, at most `max`', () => {
    const order = attemptOrder([c('low', 0), c('high', 10), c('mid', 5)], () => 0.5, 5);
    expect(order.map((x) => x.id)).toEqual(['high', 'mid', 'low']);
    expect(attemptOrder([c('a', 0), c('b', 0), c('c', 0)], Math.random, 2)).toHaveLength(2);
  });

  it('splits a tier by weight', () => {
    const first = attemptOrder([c('a', 0, 1), c('b', 0, 3)], () => 0.5, 2);
    expect(first.map((x) => x.id)).toEqual(['b', 'a']);
  });
});

describe('clientError', () => {
  const err = (code: string, retryable: boolean, retryAfterMs?: number) => new ProviderError({ code, retryable, message: `m ${code}`, retryAfterMs });

  it('answers the upstream refusal as a 400 with its message', () => {
    const e = clientError([err('upstream_unavailable', true), err('invalid_request', false)]);
    expect([e.status, e.code, e.type, e.message]).toEqual([400, 'upstream_invalid_request', 'invalid_request_error', 'm invalid_request']);
  });

  it('answers 429 upstream_rate_limited only when every channel was rate limited', () => {
    const e = clientError([err('rate_limited', true, 2500), err('rate_limited', true, 800)]);
    expect([e.status, e.code, e.type]).toEqual([429, 'upstream_rate_limited', 'upstream_error']);
    expect(e.headers).toEqual({ 'retry-after': '1' });
    expect(clientError([err('rate_limited', true), err('upstream_unavailable', true)]).status).toBe(502);
  });

  it('answers 502 upstream_unavailable for server errors and timeouts', () => {
    const e = clientError([err('timeout', true), err('upstream_unavailable', true)]);
    expect([e.status, e.code, e.type]).toEqual([502, 'upstream_unavailable', 'upstream_error']);
  });
});

describe('upstream errors', () => {
  const channel = { apiKey: 'sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789', baseUrl: 'http://10.1.2.3:8443/v1' };
  const clean = scrubberFor(channel);

  it('removes the key and the upstream address from messages, keeps documentation links', () => {
    const text = `Incorrect API key provided: ${channel.apiKey} at http://10.1.2.3:8443/v1/chat/completions (10.1.2.3). See https://platform.openai.com/docs.`;
    const out = clean(text);
    expect(out).not.toContain(channel.apiKey);
    expect(out).not.toContain('10.1.2.3');
    expect(out).not.toContain('8443');
    expect(out).toContain('https://platform.openai.com/docs');
  });

  it('classifies statuses: 429 and 5xx and channel faults retryable, other 4xx not', () => {
    const body = (message: string) => JSON.stringify({ error: { message, type: 'invalid_request_error', param: 'temperature', code: 'invalid_value' } });
    const h = new Headers({ 'retry-after': '2' });
    expect(classifyHttpError(429, h, body('slow down'), clean)).toMatchObject({ code: 'rate_limited', retryable: true, retryAfterMs: 2000 });
    expect(classifyHttpError(503, new Headers(), '<html>bad gateway</html>', clean)).toMatchObject({ code: 'upstream_unavailable', retryable: true });
    expect(classifyHttpError(401, new Headers(), body('bad key'), clean)).toMatchObject({ code: 'upstream_auth_failed', retryable: true });
    const bad = classifyHttpError(400, new Headers(), body(`temperature too high for ${channel.baseUrl}`), clean);
    expect(bad).toMatchObject({ code: 'invalid_request', retryable: false, param: 'temperature', providerCode: 'invalid_value' });
    expect(bad.message).toBe('temperature too high for [upstream]');
  });
});
