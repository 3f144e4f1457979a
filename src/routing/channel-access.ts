import type { EntityManager } from '@mikro-orm/postgresql';
import { Channel } from '../db/entities';
import type { SecretBox } from '../security/secrets';
import type { ChannelAccess } from '../providers/types';

/** A channel's provider id and decrypted credential: loaded inside activities only, never put in history. */
export async function loadChannelAccess(em: EntityManager, box: SecretBox, channelId: string): Promise<{ provider: string; access: ChannelAccess }> {
  const channel = await em.findOneOrFail(Channel, { id: channelId });
  return {
    provider: channel.provider,
    access: { channelId: channel.id, baseUrl: channel.baseUrl, apiKey: box.open(channel.apiKeyEnc), settings: channel.settings ?? {} },
  };
}
