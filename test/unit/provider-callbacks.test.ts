/** The adapters' `readCallback` and the per-job token, without a network. */
import { randomBytes } from 'node:crypto';
import { createFalProvider } from '../../src/providers/fal';
import { createReplicateProvider } from '../../src/providers/replicate';
import { callbackTokenValid, providerCallbackUrl } from '../../src/providers/callback-url';
import { ProviderError, type ChannelAccess } from '../../src/providers/types';
import { createSecretBox } from '../../src/security/secrets';
import { signWebhook } from '../../src/webhooks/sign';

const secret = `whsec_${randomBytes(24).toString('base64')}`;
const channel = (settings: Record<string, unknown> = {}): ChannelAccess => ({ channelId: 'ch_1', baseUrl: 'https://api.replicate.com/v1', apiKey: 'r8_x', settings });
const prediction = JSON.stringify({ id: 'p1abc', status: 'succeeded', output: 'https://replicate.delivery/x.mp4' });

function refused(read: () => unknown): ProviderError {
  try {
    read();
  } catch (error) {
    if (error instanceof ProviderError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('replicate readCallback', () => {
  const replicate = createReplicateProvider();
  const read = (settings: Record<string, unknown>, headers: Record<string, string>, body: string) =>
    replicate.readCallback!(channel(settings), { headers, rawBody: Buffer.from(body) });

  it('a signed prediction is news of its job', () => {
    const headers = signWebhook(secret, 'msg_1', new Date(), prediction);
    expect(read({ webhookSecret: secret }, headers, prediction)).toEqual({ kind: 'job-update', jobId: 'p1abc' });
  });

  it('refuses a tampered body, another secret, no signature, or a timestamp 10 minutes old', () => {
    const headers = signWebhook(secret, 'msg_1', new Date(), prediction);
    const other = `whsec_${randomBytes(24).toString('base64')}`;
    const old = signWebhook(secret, 'msg_1', new Date(Date.now() - 10 * 60 * 1000), prediction);
    for (const [settings, h, body] of [
      [{ webhookSecret: secret }, headers, prediction.replace('succeeded', 'failed')],
      [{ webhookSecret: other }, headers, prediction],
      [{ webhookSecret: secret }, {}, prediction],
      [{ webhookSecret: secret }, old, prediction],
    ] as const) {
      expect(refused(() => read(settings, h, body)).code).toBe('invalid_request');
    }
  });

  it('without a webhookSecret, only the body is checked (our token was the check)', () => {
    expect(read({}, {}, prediction)).toEqual({ kind: 'job-update', jobId: 'p1abc' });
    expect(refused(() => read({}, {}, 'not json')).message).toContain('not JSON');
    expect(refused(() => read({}, {}, '{"status":"succeeded"}')).message).toContain('not a prediction');
  });
});

describe('fal readCallback', () => {
  const fal = createFalProvider();
  it('reads request_id; refuses a body without one', () => {
    const ok = fal.readCallback!(channel(), { headers: {}, rawBody: Buffer.from('{"request_id":"r-1","status":"OK","payload":{}}') });
    expect(ok).toEqual({ kind: 'job-update', jobId: 'r-1' });
    expect(refused(() => fal.readCallback!(channel(), { headers: {}, rawBody: Buffer.from('[1]') })).code).toBe('invalid_request');
  });
});

describe('per-job callback token', () => {
  const box = createSecretBox('unit-secret');
  const target = { taskId: 'task_a', attempt: 2, channelId: 'ch_b' };
  it('is valid only for its task, attempt and channel, and for the gateway that made it', () => {
    const url = providerCallbackUrl('https://gw.example.com', box, target);
    const token = url.split('/').pop()!;
    expect(url).toBe(`https://gw.example.com/v1/provider-callbacks/task_a/2/ch_b/${token}`);
    expect(callbackTokenValid(box, target, token)).toBe(true);
    expect(callbackTokenValid(box, { ...target, attempt: 1 }, token)).toBe(false);
    expect(callbackTokenValid(box, { ...target, channelId: 'ch_c' }, token)).toBe(false);
    expect(callbackTokenValid(box, { ...target, taskId: 'task_b' }, token)).toBe(false);
    expect(callbackTokenValid(createSecretBox('another'), target, token)).toBe(false);
    expect(callbackTokenValid(box, target, token.slice(1))).toBe(false);
  });
});
