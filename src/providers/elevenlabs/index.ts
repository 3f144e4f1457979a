/**
 * `elevenlabs` adapter (ElevenLabs music, `https://api.elevenlabs.io`): one synchronous
 * `POST /v1/music?output_format=<setting>` whose answer is the audio itself. `xi-api-key` header; never
 * retries. The job is final at submit (see sync-audio.ts for how the bytes stay out of workflow history).
 */
import { joinUrl, parseChannelSettings } from '../http';
import { nothingToPoll, submitAudio } from '../sync-audio';
import { type ChannelAccess, type MediaProvider, type MediaRequest, type ProviderJob, type SubmitContext } from '../types';
import { ElevenLabsSettings } from './dto';
import { readElevenLabsError, reclassify } from './errors';
import { ELEVENLABS_PRICED_KEYS, musicBody } from './mapping';

const PROVIDER = 'elevenlabs';

export { ElevenLabsSettings } from './dto';

/** Creates the `elevenlabs` media provider (music). */
export function createElevenLabsProvider(): MediaProvider {
  async function submit(channel: ChannelAccess, request: MediaRequest, ctx: SubmitContext): Promise<ProviderJob> {
    return submitAudio(request, ctx, () => {
      const settings = parseChannelSettings(PROVIDER, ElevenLabsSettings, channel);
      return {
        provider: PROVIDER,
        operation: 'submit',
        method: 'POST',
        url: `${joinUrl(channel.baseUrl, 'v1/music')}?output_format=${encodeURIComponent(settings.outputFormat)}`,
        headers: { 'xi-api-key': channel.apiKey },
        json: musicBody(request),
        timeoutMs: settings.timeoutMs,
        secrets: [channel.apiKey],
      };
    }, { readError: readElevenLabsError, reclassify });
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
