/** Kling's credential: an access key and a secret key, from which each call signs its own short JWT. */
import { createHmac } from 'node:crypto';
import { ProviderError, type ChannelAccess } from '../types';

export interface KlingKeys {
  accessKey: string;
  secretKey: string;
}

/**
 * A channel stores one sealed `api_key`; for Kling it is `ACCESS_KEY:SECRET_KEY` (split at the first
 * colon: Kling's access keys have none). Anything else is a channel mistake, never retried.
 */
export function klingKeys(channel: ChannelAccess): KlingKeys {
  const at = channel.apiKey.indexOf(':');
  const accessKey = at > 0 ? channel.apiKey.slice(0, at) : '';
  const secretKey = at > 0 ? channel.apiKey.slice(at + 1) : '';
  if (!accessKey || !secretKey) {
    throw new ProviderError({
      code: 'invalid_channel_settings',
      retryable: false,
      message: `kling channel ${channel.channelId}: api_key must be "ACCESS_KEY:SECRET_KEY"`,
    });
  }
  return { accessKey, secretKey };
}

/**
 * An HS256 JWT `{"iss": accessKey, "exp": now + ttl, "nbf": now - 5}` signed with the secret key, as
 * Kling's sample makes it; signed fresh for every call so no token outlives its call by much.
 */
export function klingToken(keys: KlingKeys, ttlSeconds: number, nowMs: number = Date.now()): string {
  const now = Math.floor(nowMs / 1000);
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = b64url(JSON.stringify({ iss: keys.accessKey, exp: now + ttlSeconds, nbf: now - 5 }));
  const signature = createHmac('sha256', keys.secretKey).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}

function b64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}
