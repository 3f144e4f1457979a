/**
 * `elevenlabs` adapter (ElevenLabs music, `https://api.elevenlabs.io`): one synchronous
 * `POST /v1/music?output_format=<setting>` whose answer is the audio itself. `xi-api-key` header; never
 * retries. The job is final at submit (see sync-audio.ts for how the bytes stay out of workflow history).
 */
import { joinUrl, parseChannelSettings } from '../http';
import { fetchAudio, finishedAudioJob, nothingToPoll } from '../sync-audio';
import { ProviderError, type ChannelAccess, type MediaProvider, type MediaRequest, type ProviderJob, type SubmitContext } from '../types';
import { ElevenLabsSettings } from './dto';
import { readElevenLabsError, reclassify } from './errors';
import { ELEVENLABS_PRICED_KEYS, musicBody } from './mapping';

const PROVIDER = 'elevenlabs';

export { ElevenLabsSettings } from './dto';

/** Creates the `elevenlabs` media provider (music). */
export function createElevenLabsProvider(): MediaProvider {
  async function submit(channel: ChannelAccess, request: MediaRequest, ctx: SubmitContext): Promise<ProviderJob> {
    if (request.kind !== 'music') {
      throw new ProviderError({ code: 'invalid_request', retryable: false, message: `elevenlabs does not serve ${request.kind}` });
    }
    const settings = parseChannelSettings(PROVIDER, ElevenLabsSettings, channel);
    const url = `${joinUrl(channel.baseUrl, 'v1/music')}?output_format=${encodeURIComponent(settings.outputFormat)}`;
    const call = {
      provider: PROVIDER,
      operation: 'submit',
      method: 'POST' as const,
      url,
      headers: { 'xi-api-key': channel.apiKey },
      json: musicBody(request),
      timeoutMs: settings.timeoutMs,
      secrets: [channel.apiKey],
    };
    const audio = await fetchAudio(call, readElevenLabsError).catch((err: unknown) => {
      throw reclassify(err);
    });
    return finishedAudioJob(`elevenlabs_${ctx.taskId}_${ctx.attempt}`, audio, request.duration);
  }

  return {
    id: PROVIDER,
    kinds: ['music'],
    pricedKeys: ELEVENLABS_PRICED_KEYS,
    deliveredFrom: 'the requested `music_length_ms` (the answer is bare audio; ElevenLabs bills the length asked)',
    submit,
    status: async (_channel, job) => nothingToPoll(PROVIDER, job),
  };
}
