import type { SecretBox } from '../security/secrets';

/**
 * Durable asset links: `/assets/<id>?sig=<hmac>`. The signature makes the link unguessable and needs no
 * API key; it does not expire, because results are promised to outlive the provider's own URLs.
 */
export function assetUrl(publicUrl: string, box: SecretBox, assetId: string): string {
  return `${publicUrl}/assets/${assetId}?sig=${box.sign(`asset:${assetId}`)}`;
}

export function assetSignatureValid(box: SecretBox, assetId: string, signature: string | undefined): boolean {
  return typeof signature === 'string' && box.verify(`asset:${assetId}`, signature);
}

/** A file extension for a content type, for readable storage keys and downloads. */
export function extensionFor(contentType: string): string {
  const known: Record<string, string> = {
    'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp', 'image/gif': 'gif',
    'video/mp4': 'mp4', 'video/webm': 'webm', 'video/quicktime': 'mov',
    'audio/wav': 'wav', 'audio/x-wav': 'wav', 'audio/mpeg': 'mp3', 'audio/flac': 'flac', 'audio/ogg': 'ogg',
  };
  return known[contentType.split(';')[0]!.trim().toLowerCase()] ?? 'bin';
}
