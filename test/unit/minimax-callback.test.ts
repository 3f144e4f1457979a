/** MiniMax callbacks as the gateway hands them to the adapter: the challenge handshake and status pushes. */
import { createMiniMaxProvider } from '../../src/providers/minimax';
import type { ProviderCallback } from '../../src/providers/types';

const provider = createMiniMaxProvider();
const channel = { channelId: 'ch_1', baseUrl: 'https://api.minimax.io', apiKey: 'mm-key-not-used-here', settings: {} };
const read = (body: unknown, headers: ProviderCallback['headers'] = {}) =>
  provider.readCallback!(channel, { headers, rawBody: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)) });

describe('minimax readCallback', () => {
  it('echoes the challenge, exactly and only it', () => {
    expect(read({ challenge: 'abc123' })).toEqual({ kind: 'challenge', reply: { challenge: 'abc123' } });
    expect(read({ challenge: 'c-1', extra: 'ignored' })).toEqual({ kind: 'challenge', reply: { challenge: 'c-1' } });
  });

  it('reads status pushes in the documented lowercase and the capitalised spelling of the query', () => {
    expect(read({ task_id: '106916112212032', status: 'success', file_id: '313992866418884', base_resp: { status_code: 0, status_msg: 'success' } }))
      .toEqual({ kind: 'job-update', jobId: '106916112212032' });
    expect(read({ task_id: '106916112212032', status: 'Success' })).toEqual({ kind: 'job-update', jobId: '106916112212032' });
    expect(read({ task_id: 106916112212032, status: 'failed', base_resp: { status_code: 1027 } })).toEqual({ kind: 'job-update', jobId: '106916112212032' });
  });

  it.each([
    ['not JSON', 'not json'],
    ['an array', '[]'],
    ['no task id', { status: 'success' }],
    ['a task id with path characters', { task_id: '../../etc/passwd', status: 'success' }],
    ['a task id that is an object', { task_id: { $ne: 1 }, status: 'success' }],
    ['a fractional numeric id', { task_id: 1.5, status: 'success' }],
    ['no status', { task_id: '1' }],
    ['an empty challenge', { challenge: '' }],
    ['a huge challenge', { challenge: 'x'.repeat(600) }],
    ['a challenge that is not a string', { challenge: { a: 1 } }],
    ['an empty body', ''],
  ])('refuses %s as invalid_request', (_name, body) => {
    let thrown: unknown;
    try {
      read(body);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toMatchObject({ name: 'ProviderError', code: 'invalid_request', retryable: false });
  });
});
