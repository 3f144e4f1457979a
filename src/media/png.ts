import { createHash } from 'node:crypto';
import { deflateSync } from 'node:zlib';

/** Options for {@link pngBytes}; every field has a default. */
export interface PngOptions {
  /** Pixels, 1..4096. Default 64. */
  width?: number;
  /** Pixels, 1..4096. Default 64. */
  height?: number;
  /** Picks the colours: the same seed always gives the same bytes. Default ''. */
  seed?: string;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const MAX_SIDE = 4096;
/** RGB, 8 bits per channel. */
const COLOR_TYPE_RGB = 2;
const BYTES_PER_PIXEL = 3;

// Node 20 has no zlib.crc32 (added in 22.2), so the standard table-driven CRC-32 lives here.
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (ISO-HDLC, as PNG and zip use it) of the given bytes. */
export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

function side(name: string, value: number | undefined): number {
  const v = value ?? 64;
  if (!Number.isInteger(v) || v < 1 || v > MAX_SIDE) {
    throw new RangeError(`png ${name} must be an integer in 1..${MAX_SIDE}, got ${String(value)}`);
  }
  return v;
}

/** A valid RGB PNG holding a diagonal gradient between two colours picked from `seed`. Default 64x64. */
export function pngBytes(opts: PngOptions = {}): Buffer {
  const width = side('width', opts.width);
  const height = side('height', opts.height);
  const h = createHash('sha256').update(`png:${opts.seed ?? ''}`).digest();
  const from = [h[0], h[1], h[2]];
  const to = [h[3], h[4], h[5]];

  const stride = 1 + width * BYTES_PER_PIXEL;
  const raw = Buffer.alloc(height * stride);
  const span = Math.max(1, width + height - 2);
  for (let y = 0; y < height; y++) {
    const row = y * stride;
    raw[row] = 0; // filter type None
    for (let x = 0; x < width; x++) {
      const t = (x + y) / span;
      const px = row + 1 + x * BYTES_PER_PIXEL;
      for (let c = 0; c < BYTES_PER_PIXEL; c++) raw[px + c] = Math.round(from[c] + (to[c] - from[c]) * t);
    }
  }

  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = COLOR_TYPE_RGB;
  ihdr[10] = 0; // compression: deflate
  ihdr[11] = 0; // filter method 0
  ihdr[12] = 0; // no interlace

  return Buffer.concat([
    SIGNATURE,
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
