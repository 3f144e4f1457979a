import { createHash } from 'node:crypto';

/** Options for {@link wavBytes}; every field has a default. */
export interface WavOptions {
  /** Length in seconds, > 0 and at most 600. Default 1. */
  seconds?: number;
  /** Picks the tone's frequency: the same seed always gives the same bytes. Default ''. */
  seed?: string;
  /** Samples per second, 1000..96000. Default 8000. */
  sampleRate?: number;
}

const HEADER_BYTES = 44;
const BITS_PER_SAMPLE = 16;
const CHANNELS = 1;
const MAX_SECONDS = 600;
/** A short fade at both ends so the tone starts and stops without a click. */
const FADE_SECONDS = 0.01;

/** A RIFF/WAVE file: 16-bit PCM mono sine tone between 220 and 880 Hz picked from `seed`. Default 1 s at 8 kHz. */
export function wavBytes(opts: WavOptions = {}): Buffer {
  const seconds = opts.seconds ?? 1;
  const sampleRate = opts.sampleRate ?? 8000;
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > MAX_SECONDS) {
    throw new RangeError(`wav seconds must be in (0, ${MAX_SECONDS}], got ${String(opts.seconds)}`);
  }
  if (!Number.isInteger(sampleRate) || sampleRate < 1000 || sampleRate > 96000) {
    throw new RangeError(`wav sampleRate must be an integer in 1000..96000, got ${String(opts.sampleRate)}`);
  }

  const h = createHash('sha256').update(`wav:${opts.seed ?? ''}`).digest();
  const frequency = 220 + (h.readUInt16BE(0) % 661);
  const blockAlign = CHANNELS * (BITS_PER_SAMPLE / 8);
  const samples = Math.max(1, Math.round(seconds * sampleRate));
  const dataBytes = samples * blockAlign;
  const fade = Math.max(1, Math.round(FADE_SECONDS * sampleRate));

  const buf = Buffer.alloc(HEADER_BYTES + dataBytes);
  buf.write('RIFF', 0, 'latin1');
  buf.writeUInt32LE(buf.length - 8, 4);
  buf.write('WAVE', 8, 'latin1');
  buf.write('fmt ', 12, 'latin1');
  buf.writeUInt32LE(16, 16); // fmt chunk size for PCM
  buf.writeUInt16LE(1, 20); // audio format: PCM
  buf.writeUInt16LE(CHANNELS, 22);
  buf.writeUInt32LE(sampleRate, 24);
  buf.writeUInt32LE(sampleRate * blockAlign, 28); // byte rate
  buf.writeUInt16LE(blockAlign, 32);
  buf.writeUInt16LE(BITS_PER_SAMPLE, 34);
  buf.write('data', 36, 'latin1');
  buf.writeUInt32LE(dataBytes, 40);

  for (let i = 0; i < samples; i++) {
    const envelope = Math.min(1, i / fade, (samples - 1 - i) / fade);
    const v = Math.sin((2 * Math.PI * frequency * i) / sampleRate) * envelope * 0.3;
    buf.writeInt16LE(Math.round(v * 32767), HEADER_BYTES + i * blockAlign);
  }
  return buf;
}

/** The playing time of a PCM WAV file, from its `fmt ` and `data` chunks. Throws on anything else. */
export function readWavDurationSeconds(buf: Buffer): number {
  if (buf.length < 12 || buf.toString('latin1', 0, 4) !== 'RIFF' || buf.toString('latin1', 8, 12) !== 'WAVE') {
    throw new Error('not a RIFF/WAVE file');
  }
  let byteRate: number | undefined;
  let dataBytes: number | undefined;
  let offset = 12;
  while (offset + 8 <= buf.length) {
    const id = buf.toString('latin1', offset, offset + 4);
    const size = buf.readUInt32LE(offset + 4);
    if (id === 'fmt ' && size >= 16) byteRate = buf.readUInt32LE(offset + 8 + 8);
    if (id === 'data') dataBytes = size;
    offset += 8 + size + (size % 2); // chunks are padded to an even length
  }
  if (byteRate === undefined || dataBytes === undefined || byteRate === 0) {
    throw new Error('WAV file has no usable fmt or data chunk');
  }
  return dataBytes / byteRate;
}
