import { AssetTooLargeError } from '../storage/asset-store';

/**
 * The bytes of a `data:` URI (base64 or percent-encoded); undefined when `uri` is not a data URI. Providers
 * sometimes answer a small output inline this way: it is stored like any download, under the same cap
 * (AssetTooLargeError past `maxBytes`) and the same content checks. The URI is already in memory, so
 * decoding it costs at most as much again.
 */
export function decodeDataUri(uri: string, maxBytes = Number.POSITIVE_INFINITY): Buffer | undefined {
  const match = /^data:([^,]*),(.*)$/is.exec(uri);
  if (!match) return undefined;
  const bytes = /;base64$/i.test(match[1]!.trim()) ? Buffer.from(match[2]!, 'base64') : percentDecode(match[2]!);
  if (bytes.length > maxBytes) throw new AssetTooLargeError(`The output is larger than ${maxBytes} bytes`);
  return bytes;
}

function percentDecode(text: string): Buffer {
  const raw = Buffer.from(text, 'utf8');
  const out = Buffer.alloc(raw.length);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const hex = raw.toString('latin1', i + 1, i + 3);
    if (raw[i] === 0x25 && /^[0-9a-f]{2}$/i.test(hex)) {
      out[n++] = parseInt(hex, 16);
      i += 2;
    } else {
      out[n++] = raw[i]!;
    }
  }
  return out.subarray(0, n);
}
