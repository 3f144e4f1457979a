/** Options the gateway owns besides the priced ones: a consumer's callback_url never reaches Kling or Luma. */
import { taskBody } from '../../src/providers/kling/mapping';
import { generationBody } from '../../src/providers/luma/mapping';
import type { MediaRequest } from '../../src/providers/types';

const request = (options: Record<string, unknown>): MediaRequest =>
  ({ kind: 'video', model: 'm', prompt: 'a fox', duration: 5, references: {}, options } as unknown as MediaRequest);

describe('callback_url belongs to the gateway', () => {
  it('kling: a consumer option is dropped; ours is sent when we ask for a callback', () => {
    expect(taskBody(request({ callback_url: 'https://evil.example/hook' }), undefined)).not.toHaveProperty('callback_url');
    expect(taskBody(request({ callback_url: 'https://evil.example/hook' }), 'https://gw.example/cb')).toMatchObject({ callback_url: 'https://gw.example/cb' });
  });

  it('luma: a consumer option is dropped; ours is sent when we ask for a callback', () => {
    expect(generationBody(request({ callback_url: 'https://evil.example/hook' }), undefined).body).not.toHaveProperty('callback_url');
    expect(generationBody(request({ callback_url: 'https://evil.example/hook' }), 'https://gw.example/cb').body).toMatchObject({ callback_url: 'https://gw.example/cb' });
  });
});
