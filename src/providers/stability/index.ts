/**
 * `stability` adapter (Stable Audio, `https://api.stability.ai`): one synchronous multipart
 * `POST /v2beta/audio/stable-audio-2/text-to-audio` with `Accept: audio/*`, whose answer is the audio
 * itself. `Authorization: Bearer <key>`; never retries. The job is final at submit (see sync-audio.ts).
 */
import { joinUrl, parseChannelSettings } from '../http';
import { nothingToPoll, submitAudio } from '../sync-audio';
import { type ChannelAccess, type MediaProvider, type MediaRequest, type ProviderJob, type SubmitContext } from '../types';
import { StabilitySettings } from './dto';
import { readStabilityError, reclassify } from './errors';
import { STABILITY_PRICED_KEYS, audioForm } from './mapping';

const PROVIDER = 'stability';
const TEXT_TO_AUDIO = 'v2beta/audio/stable-audio-2/text-to-audio';

export { StabilitySettings } from './dto';

/** Creates the `stability` media provider (music). */
export function createStabilityProvider(): MediaProvider {
  async function submit(channel: ChannelAccess, request: MediaRequest, ctx: SubmitContext): Promise<ProviderJob> {
    return submitAudio(request, ctx, () => {
      const settings = parseChannelSettings(PROVIDER, StabilitySettings, channel);
      const form = new FormData();
      for (const [key, value] of Object.entries(audioForm(request, settings.outputFormat))) form.append(key, value);
      return {
        provider: PROVIDER,
        operation: 'submit',
        method: 'POST',
        url: joinUrl(channel.baseUrl, TEXT_TO_AUDIO),
        headers: { authorization: `Bearer ${channel.apiKey}` },
        form,
        timeoutMs: settings.timeoutMs,
        secrets: [channel.apiKey],
      };
    }, { readError: readStabilityError, reclassify });
  }

  return {
    id: PROVIDER,
    kinds: ['music'],
    pricedKeys: STABILITY_PRICED_KEYS,
    deliveredFrom: 'the requested `duration` (the answer is bare audio; Stability bills per generation)',
    submit,
    status: async (_channel, job) => nothingToPoll(PROVIDER, job),
  };
}
