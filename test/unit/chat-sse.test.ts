import { clientChunk, errorEvent, inspectChunk, parseSseBlock, readUsage, SseSplitter } from '../../src/modules/chat/sse';

const chunk = (extra: Record<string, unknown>) => JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', ...extra });

describe('SseSplitter', () => {
  it('returns events as soon as their blank line arrives, across arbitrary piece boundaries', () => {
    const s = new SseSplitter();
    expect(s.push('data: {"a"')).toEqual([]);
    expect(s.push(':1}\n')).toEqual([]);
    expect(s.push('\ndata: {"b":2}\n\ndata: [DO')).toEqual(['data: {"a":1}', 'data: {"b":2}']);
    expect(s.push('NE]\n\n')).toEqual(['data: [DONE]']);
    expect(s.rest()).toBe('');
  });

  it('normalizes CRLF and CR line endings, including a CRLF split between pieces', () => {
    const s = new SseSplitter();
    expect(s.push('data: 1\r\n\r')).toEqual([]);
    // The last CR may be half of a CRLF: it waits for the next piece.
    expect(s.push('\ndata: 2\r\r')).toEqual(['data: 1']);
    expect(s.push('data: 3\n\n')).toEqual(['data: 2', 'data: 3']);
  });

  it('keeps comments as blocks of their own and skips stray blank lines', () => {
    const s = new SseSplitter();
    expect(s.push('\n\n: keep-alive\n\ndata: x\n\n')).toEqual([': keep-alive', 'data: x']);
  });

  it('reports an incomplete event at the end', () => {
    const s = new SseSplitter();
    s.push('data: {"half":');
    expect(s.rest()).toBe('data: {"half":');
  });
});

describe('parseSseBlock', () => {
  it('joins data lines, reads the event name, ignores comments and one leading space', () => {
    expect(parseSseBlock('event: error\ndata: {"x":\ndata:1}')).toEqual({ event: 'error', data: '{"x":\n1}' });
    expect(parseSseBlock(': ping')).toEqual({ event: null, data: null });
    expect(parseSseBlock('data:  two spaces')).toEqual({ event: null, data: ' two spaces' });
  });
});

describe('inspectChunk', () => {
  it('recognises [DONE]', () => {
    expect(inspectChunk('[DONE]').done).toBe(true);
  });

  it('counts delivered text: content, refusal and tool-call names and arguments, per chunk', () => {
    expect(inspectChunk(chunk({ choices: [{ index: 0, delta: { content: 'Hi ' } }] })).text).toBe('Hi ');
    expect(inspectChunk(chunk({ choices: [{ index: 0, delta: { reasoning_content: 'think' } }] })).text).toBe('think');
    expect(inspectChunk(chunk({ choices: [{ index: 0, delta: { role: 'assistant', content: '' } }] })).text).toBe('');
    const tool = chunk({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { name: 'get_weather', arguments: '{"city"' } }] } }] });
    expect(inspectChunk(tool).text).toBe('get_weather{"city"');
    const two = chunk({ choices: [{ index: 0, delta: { content: 'a' } }, { index: 1, delta: { content: 'b' } }] });
    expect(inspectChunk(two).text).toBe('ab');
  });

  it('reads the usage chunk and in-stream errors', () => {
    const usage = inspectChunk(chunk({ choices: [], usage: { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 } }));
    expect(usage.usage).toEqual({ input: 12, output: 7 });
    expect(inspectChunk(chunk({ choices: [], usage: null })).usage).toBeNull();
    expect(inspectChunk('{"error":{"message":"boom","type":"server_error"}}').error).toEqual({ message: 'boom', type: 'server_error' });
  });

  it('tolerates data that is not JSON', () => {
    expect(inspectChunk('not json')).toMatchObject({ done: false, json: null, text: '' });
  });
});

describe('clientChunk', () => {
  const usageChunk = `data: ${chunk({ choices: [], usage: { prompt_tokens: 1, completion_tokens: 2 } })}`;
  const contentChunk = `data: ${chunk({ choices: [{ index: 0, delta: { content: 'x' } }], usage: null })}`;
  const plain = `data: ${chunk({ choices: [{ index: 0, delta: { content: 'x' } }] })}`;
  const info = (block: string) => inspectChunk(parseSseBlock(block).data!);

  it('drops the usage-only chunk and the usage field when the client did not ask for usage', () => {
    expect(clientChunk(usageChunk, info(usageChunk), false)).toBeNull();
    const stripped = clientChunk(contentChunk, info(contentChunk), false)!;
    expect(JSON.parse(stripped.slice(6))).toEqual({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: 'x' } }] });
  });

  it('cuts a trailing top-level "usage":null out of the text, and re-serialises every other spelling', () => {
    const compact = 'data: {"id":"c1","choices":[{"index":0,"delta":{"content":"a,\\"usage\\":null}"}}],"usage":null}';
    expect(clientChunk(compact, info(compact), false)).toBe('data: {"id":"c1","choices":[{"index":0,"delta":{"content":"a,\\"usage\\":null}"}}]}');
    const nested = 'data: {"usage":null,"choices":[{"index":0,"delta":{},"x":{"usage":null}}]}';
    expect(clientChunk(nested, info(nested), false)).toBe('data: {"choices":[{"index":0,"delta":{},"x":{"usage":null}}]}');
    const spaced = 'data: {"choices": [{"index": 0, "delta": {}}], "usage": null}';
    expect(clientChunk(spaced, info(spaced), false)).toBe('data: {"choices":[{"index":0,"delta":{}}]}');
  });

  it('passes everything through untouched when the client asked, and chunks without usage always', () => {
    expect(clientChunk(usageChunk, info(usageChunk), true)).toBe(usageChunk);
    expect(clientChunk(contentChunk, info(contentChunk), true)).toBe(contentChunk);
    expect(clientChunk(plain, info(plain), false)).toBe(plain);
  });
});

describe('readUsage and errorEvent', () => {
  it('accepts both spellings of usage', () => {
    expect(readUsage({ prompt_tokens: 3, completion_tokens: 4 })).toEqual({ input: 3, output: 4 });
    expect(readUsage({ input_tokens: 3, output_tokens: 4 })).toEqual({ input: 3, output: 4 });
    expect(readUsage({ prompt_tokens: 5, total_tokens: 5 })).toEqual({ input: 5, output: 0 });
    expect(readUsage({ total_tokens: 5 })).toBeNull();
    expect(readUsage({
      prompt_tokens: 100, completion_tokens: 50,
      prompt_tokens_details: { cached_tokens: 60, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 30, audio_tokens: 5 },
    })).toEqual({ input: 100, output: 50, cachedInput: 60, reasoning: 30, audioOutput: 5 });
    expect(readUsage({ input_tokens: 10, output_tokens: 20, output_tokens_details: { reasoning_tokens: 12 } })).toEqual({ input: 10, output: 20, reasoning: 12 });
    // A detail is part of its total: never more than it, whatever the upstream says.
    expect(readUsage({ prompt_tokens: 10, completion_tokens: 4, completion_tokens_details: { reasoning_tokens: 99 } })).toEqual({ input: 10, output: 4, reasoning: 4 });
    expect(readUsage(null)).toBeNull();
  });

  it('renders an OpenAI-shaped error event', () => {
    const event = errorEvent({ message: 'cut', type: 'upstream_error', code: 'upstream_stream_interrupted' });
    expect(event.startsWith('data: ')).toBe(true);
    expect(JSON.parse(event.slice(6))).toEqual({ error: { message: 'cut', type: 'upstream_error', param: null, code: 'upstream_stream_interrupted' } });
  });
});
