import { priceTokens } from '../../src/billing/pricing';
import { chargeFor } from '../../src/modules/chat/chat.billing';
import { attemptOrder, clientError } from '../../src/modules/chat/chat.service';
import {
  DEFAULT_MAX_OUTPUT_TOKENS,
  encodingFor,
  estimateEmbeddingTokens,
  estimatePromptTokens,
  generatedTokens,
  outputCap,
  tokenCounter,
} from '../../src/modules/chat/token-estimate';
import { classifyHttpError, scrubberFor } from '../../src/modules/chat/upstream';
import { ProviderError } from '../../src/providers/types';
import type { Candidate } from '../../src/routing/candidates';

// Expected counts are literal: what the o200k_base / cl100k_base encodings give for these texts.
describe('token estimate', () => {
  const o200k = () => tokenCounter('o200k_base');
  const cl100k = () => tokenCounter('cl100k_base');

  it('counts with the real encodings, CJK included', () => {
    expect(o200k()('')).toBe(0);
    expect(o200k()('The quick brown fox jumps over the lazy dog.')).toBe(10);
    expect(o200k()('你好世界'.repeat(150))).toBe(300);
    expect(cl100k()('你好世界'.repeat(150))).toBe(750);
    // A special token in user text is text (7 tokens), not an error.
    expect(o200k()('<|endoftext|>')).toBe(7);
  });

  it('picks the encoding from the model id', () => {
    expect(encodingFor('gpt-4o-mini')).toBe('o200k_base');
    expect(encodingFor('gpt-4.1')).toBe('o200k_base');
    expect(encodingFor('o3-mini')).toBe('o200k_base');
    expect(encodingFor('gpt-4')).toBe('cl100k_base');
    expect(encodingFor('gpt-4-turbo')).toBe('cl100k_base');
    expect(encodingFor('gpt-3.5-turbo')).toBe('cl100k_base');
    expect(encodingFor('text-embedding-3-small')).toBe('cl100k_base');
    expect(encodingFor('openai/text-embedding-ada-002')).toBe('cl100k_base');
    expect(encodingFor('qwen-max')).toBe('o200k_base');
  });

  it('tokenizes at most its budget of characters and counts the rest at one token per two bytes', () => {
    const count = tokenCounter('o200k_base', 44);
    // 44 characters tokenized (10 tokens), then 10 CJK characters of 3 bytes each = 15 tokens.
    expect(count(`The quick brown fox jumps over the lazy dog.${'你'.repeat(10)}`)).toBe(10 + 15);
    expect(count('abcd')).toBe(2);
  });

  it('adds 4 tokens per message and 3 for the reply, and counts tools and response_format', () => {
    const messages = [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Hello there!' },
    ];
    const plain = estimatePromptTokens({ messages }, o200k());
    expect(plain).toBe(3 + 2 * 4 + 4 + 3);
    const tools = [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }];
    expect(estimatePromptTokens({ messages, tools }, o200k())).toBe(plain + 19);
    expect(estimatePromptTokens({ messages, response_format: { type: 'json_object' } }, o200k())).toBe(plain + 6);
  });

  it('charges a flat 1105 tokens per image part instead of the bytes of a data URI', () => {
    const image = { type: 'image_url', image_url: { url: `data:image/png;base64,${'A'.repeat(100_000)}` } };
    const tokens = estimatePromptTokens({ messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this?' }, image] }] }, o200k());
    expect(tokens).toBe(3 + 4 + 4 + 1105);
  });

  it("takes the output cap from max_completion_tokens, then max_tokens, then the model's max_output_tokens, then 4096, times n", () => {
    expect(DEFAULT_MAX_OUTPUT_TOKENS).toBe(4096);
    expect(outputCap({}, null)).toEqual({ tokens: 4096, clientLimited: false });
    expect(outputCap({}, 32_000)).toEqual({ tokens: 32_000, clientLimited: false });
    expect(outputCap({ max_tokens: 100 }, 32_000)).toEqual({ tokens: 100, clientLimited: true });
    expect(outputCap({ max_tokens: 100, max_completion_tokens: 50 }, null)).toEqual({ tokens: 50, clientLimited: true });
    expect(outputCap({ max_tokens: 100, n: 3 }, null)).toEqual({ tokens: 300, clientLimited: true });
    expect(outputCap({ n: 2 }, 8000).tokens).toBe(16_000);
  });

  it('estimates embeddings input: strings, lists, token arrays', () => {
    expect(estimateEmbeddingTokens('abcdefgh', o200k())).toBe(1);
    expect(estimateEmbeddingTokens(['You are terse.', 'Hello there!'], o200k())).toBe(7);
    expect(estimateEmbeddingTokens([1, 2, 3], o200k())).toBe(3);
    expect(estimateEmbeddingTokens([[1, 2], [3]], o200k())).toBe(3);
  });

  it('counts generated text with the tokenizer, and at least one token per chunk that carried text', () => {
    expect(generatedTokens('The quick brown fox jumps over the lazy dog.', 3, o200k())).toBe(10);
    expect(generatedTokens('aaaaaaaaaaaaaaaa', 12, o200k())).toBe(12);
    expect(generatedTokens('', 0, o200k())).toBe(0);
  });
});

describe('billing rule', () => {
  const pricing = { per_1k_input_tokens: 1000, per_1k_output_tokens: 2000 };

  it('charges the full price of the real tokens, whatever the hold was', () => {
    expect(chargeFor(pricing, { input: 10, output: 5 })).toBe(20);
    expect(chargeFor(pricing, { input: 10, output: 5000 })).toBe(10_010);
  });

  it('rounds each priced part up to whole credits', () => {
    expect(priceTokens({ per_1k_input_tokens: 3, per_1k_output_tokens: 15, per_request: 1 }, { input: 1, output: 1 })).toBe(1 + 1 + 1);
  });

  it('prices the detail fields the pricing names at their own rate, and the others inside their totals', () => {
    const rich = { per_1k_input_tokens: 10, per_1k_output_tokens: 40, per_1k_cached_input_tokens: 1, per_1k_reasoning_tokens: 80 };
    // 1000 prompt tokens of which 600 cached: 400 x 10/1k + 600 x 1/1k = 4 + 1 (0.6 rounded up);
    // 2000 completion tokens of which 1500 reasoning: 500 x 40/1k + 1500 x 80/1k = 20 + 120; audio unnamed.
    expect(priceTokens(rich, { input: 1000, output: 2000, cachedInput: 600, reasoning: 1500, audioOutput: 100 })).toBe(4 + 1 + 20 + 120);
    // Without detail rates, the totals are priced as they are.
    expect(priceTokens(pricing, { input: 1000, output: 2000, cachedInput: 600, reasoning: 1500 })).toBe(1000 + 4000);
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
