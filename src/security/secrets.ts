import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** SHA-256 of a consumer key, as stored and looked up. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/**
 * Encrypts and decrypts secrets at rest (provider credentials, webhook secrets) with AES-256-GCM, and
 * signs asset links. A key ring: the first secret seals and signs; every secret (the current one, then
 * the previous ones) opens and verifies, so an operator can rotate GATEWAY_SECRET without breaking
 * sealed credentials or links handed out, then re-seal everything (`POST /admin/secrets/reseal`).
 */
export interface SecretBox {
  seal(plaintext: string): string;
  open(sealed: string): string;
  /** True when `sealed` was sealed with the current secret (a re-seal would change nothing). */
  sealedWithCurrent(sealed: string): boolean;
  /** HMAC-SHA256 of `value` with the current secret, URL-safe; used to sign asset links. */
  sign(value: string): string;
  verify(value: string, signature: string): boolean;
}

interface RingKey {
  encryptionKey: Buffer;
  signingKey: Buffer;
}

function ringKey(secret: string): RingKey {
  return {
    encryptionKey: createHash('sha256').update(`enc:${secret}`).digest(),
    signingKey: createHash('sha256').update(`sig:${secret}`).digest(),
  };
}

/** `secrets`: the current secret, or the ring (current first, then previous ones, newest first). */
export function createSecretBox(secrets: string | readonly string[]): SecretBox {
  const ring = (typeof secrets === 'string' ? [secrets] : [...new Set(secrets)]).map(ringKey);
  const current = ring[0];
  if (!current) throw new Error('A secret box needs at least one secret');
  const signWith = (key: RingKey, value: string) => createHmac('sha256', key.signingKey).update(value).digest('base64url');
  const openWith = (key: RingKey, sealed: string): string => {
    const [version, iv, tag, body] = sealed.split('.');
    if (version !== 'v1' || !iv || !tag || body === undefined) throw new Error('Unreadable sealed secret');
    const decipher = createDecipheriv('aes-256-gcm', key.encryptionKey, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  };
  return {
    seal(plaintext) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', current.encryptionKey, iv);
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return `v1.${iv.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}.${body.toString('base64url')}`;
    },
    open(sealed) {
      // GCM's tag fails with the wrong key, so trying each key in turn is safe.
      for (const key of ring) {
        try {
          return openWith(key, sealed);
        } catch {
          // Not this key: try the next.
        }
      }
      throw new Error('Unreadable sealed secret (sealed with none of the configured secrets)');
    },
    sealedWithCurrent(sealed) {
      try {
        openWith(current, sealed);
        return true;
      } catch {
        return false;
      }
    },
    sign: (value) => signWith(current, value),
    verify(value, signature) {
      const given = Buffer.from(signature);
      return ring.some((key) => {
        const expected = Buffer.from(signWith(key, value));
        return expected.length === given.length && timingSafeEqual(expected, given);
      });
    },
  };
}

/** A new consumer key: `sk-gw-` and 40 random base62-ish characters. */
export function newApiKeySecret(): string {
  return `sk-gw-${randomBytes(30).toString('base64url')}`;
}

/** A new Standard Webhooks secret: `whsec_` + base64 of 32 random bytes. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}
