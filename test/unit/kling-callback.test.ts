/** Kling's callbacks (the bare task object, unsigned) as the adapter reads them, and its JWT. */
import { createHmac } from 'node:crypto';
import { createKlingProvider } from '../../src/providers/kling';
import { klingKeys, klingToken } from '../../src/providers/kling/auth';
import { ProviderError, type ChannelAccess } from '../../src/providers/types';

const provider = createKlingProvider();
const channel: ChannelAccess = { channelId: 'ch_k', baseUrl: 'https://api-singapore.klingai.com', apiKey: 'AKexample01:SKsecret0123456789', settings: {} };
const read = (body: string | Buffer) => provider.readCallback!(channel, { headers: { 'content-type': 'application/json' }, rawBody: Buffer.isBuffer(body) ? body : Buffer.from(body) });

describe('kling readCallback', () => {
  it('a task object (as Kling POSTs it: no envelope) is news for its task', () => {
    const task = {
      task_id: '867283741759111202', task_status: 'succeed', task_status_msg: '', created_at: 1774805076166, updated_at: 1774805099000,
      final_unit_deduction: '3.6', task_info: { external_task_id: 'x' }, task_result: { videos: [{ id: 'v', url: 'https://cdn.example/v.mp4', duration: '5.041' }] },
    };
    expect(read(JSON.stringify(task))).toEqual({ kind: 'job-update', jobId: '867283741759111202' });
    expect(read('{"task_id":"867283741759111202","task_status":"processing"}')).toEqual({ kind: 'job-update', jobId: '867283741759111202' });
  });

  it.each([
    ['not JSON', 'task_id=1'],
    ['an empty body', ''],
    ['an envelope instead of the bare task', '{"code":0,"message":"SUCCEED","data":{"task_id":"1","task_status":"succeed"}}'],
    ['no status', '{"task_id":"867283741759111202"}'],
    ['a task id that is a path', '{"task_id":"../../admin","task_status":"succeed"}'],
    ['an array', '[{"task_id":"1","task_status":"succeed"}]'],
    ['a number id', '{"task_id":867283741759111202,"task_status":"succeed"}'],
  ])('refuses %s with invalid_request', (_name, body) => {
    let thrown: unknown;
    try {
      read(body);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ProviderError);
    expect(thrown).toMatchObject({ code: 'invalid_request', retryable: false });
  });
});

describe('kling credentials', () => {
  it('the channel key is ACCESS_KEY:SECRET_KEY, split at the first colon', () => {
    expect(klingKeys(channel)).toEqual({ accessKey: 'AKexample01', secretKey: 'SKsecret0123456789' });
    expect(klingKeys({ ...channel, apiKey: 'AK:SK:with:colons' })).toEqual({ accessKey: 'AK', secretKey: 'SK:with:colons' });
    for (const apiKey of ['nocolon', ':onlysecret', 'onlyaccess:']) {
      expect(() => klingKeys({ ...channel, apiKey })).toThrow(expect.objectContaining({ code: 'invalid_channel_settings' }));
    }
  });

  it('signs an HS256 JWT with the secret key: iss the access key, nbf 5 s back, exp after the TTL', () => {
    const now = Date.UTC(2026, 11, 5, 3, 0, 0);
    const token = klingToken(klingKeys(channel), 300, now);
    const [header, payload, signature] = token.split('.');
    expect(JSON.parse(Buffer.from(header, 'base64url').toString())).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(JSON.parse(Buffer.from(payload, 'base64url').toString())).toEqual({ iss: 'AKexample01', exp: now / 1000 + 300, nbf: now / 1000 - 5 });
    expect(signature).toBe(createHmac('sha256', 'SKsecret0123456789').update(`${header}.${payload}`).digest('base64url'));
    expect(token).not.toContain('SKsecret');
  });
});
