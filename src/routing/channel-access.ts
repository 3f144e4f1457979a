import type { EntityManager } from '@mikro-orm/postgresql';
import { Channel } from '../db/entities';
import type { SecretBox } from '../security/secrets';
import type { ChannelAccess } from '../providers/types';

/**
 * Channel settings the gateway itself reads (routing and polling); they are not passed to the
 * provider adapter, whose own settings schema may be strict.
 */
export const GATEWAY_SETTING_KEYS = ['pollIntervalMs', 'circuitThreshold', 'circuitCooldownMs', 'callbacks', 'callbackBackstopPollMs'] as const;

export interface GatewayChannelSettings {
  pollIntervalMs?: number;
  circuitThreshold?: number;
  circuitCooldownMs?: number;
  /** Ask the provider to call back when its job ends (default on where the adapter can read callbacks). */
  callbacks?: boolean;
  /** With callbacks on: how often the job is still polled, in case a callback never comes (default 30 s). */
  callbackBackstopPollMs?: number;
}

/** Splits a channel's settings into the gateway's and the provider's. */
export function splitSettings(settings: Record<string, unknown>): { gateway: GatewayChannelSettings; provider: Record<string, unknown> } {
  const gateway: Record<string, number | boolean> = {};
  const provider: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(settings ?? {})) {
    if ((GATEWAY_SETTING_KEYS as readonly string[]).includes(name)) {
      if (typeof value === 'number' && Number.isFinite(value) && value >= 0) gateway[name] = value;
      else if (typeof value === 'boolean') gateway[name] = value;
    } else {
      provider[name] = value;
    }
  }
  return { gateway, provider };
}

/** A channel's provider id and decrypted credential: loaded inside activities only, never put in history. */
export async function loadChannelAccess(em: EntityManager, box: SecretBox, channelId: string): Promise<{ provider: string; access: ChannelAccess; gateway: GatewayChannelSettings }> {
  const channel = await em.findOneOrFail(Channel, { id: channelId });
  const { gateway, provider } = splitSettings(channel.settings ?? {});
  return {
    provider: channel.provider,
    access: { channelId: channel.id, baseUrl: channel.baseUrl, apiKey: box.open(channel.apiKeyEnc), settings: provider },
    gateway,
  };
}
