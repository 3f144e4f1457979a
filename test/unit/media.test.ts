import { inflateSync } from 'node:zlib';
import { mp4Bytes, pngBytes, wavBytes } from '../../src/media';
import { readMp4DurationSeconds } from '../../src/media/mp4';
import { crc32 } from '../../src/media/png';
import { readWavDurationSeconds } from '../../src/media/wav';

interface Chunk {
  type: string;
  data: Buffer;
  crc: number;
}

function pngChunks(buf: Buffer): Chunk[] {
  const chunks: Chunk[] = [];
  let offset = 8;
  while (offset < buf.length) {
    const length = buf.readUInt32BE(offset);
    const type = buf.toString('latin1', offset + 4, offset + 8);
    const data = buf.subarray(offset + 8, offset + 8 + length);
    chunks.push({ type, data, crc: buf.readUInt32BE(offset + 8 + length) });
    offset += 12 + length;
  }
  expect(offset).toBe(buf.length);
  return chunks;
}

interface Box {
  type: string;
  body: Buffer;
  /** Absolute offset of the body in the file. */
  at: number;
}

function boxes(buf: Buffer, start = 0, end = buf.length): Box[] {
  const out: Box[] = [];
  let offset = start;
  while (offset < end) {
    const size = buf.readUInt32BE(offset);
    expect(size).toBeGreaterThanOrEqual(8);
    out.push({ type: buf.toString('latin1', offset + 4, offset + 8), body: buf.subarray(offset + 8, offset + size), at: offset + 8 });
    offset += size;
  }
  expect(offset).toBe(end);
  return out;
}

function child(buf: Buffer, parent: Box, type: string, skip = 0): Box {
  const found = boxes(buf, parent.at + skip, parent.at + parent.body.length).find((b) => b.type === type);
  if (!found) throw new Error(`no ${type} in ${parent.type}`);
  return found;
}

/** Walks moov/trak/mdia/minf/stbl, which every MP4 reader needs. */
function sampleTable(buf: Buffer): Record<string, Box> {
  const moov = boxes(buf).find((b) => b.type === 'moov')!;
  const trak = child(buf, moov, 'trak');
  const mdia = child(buf, trak, 'mdia');
  const minf = child(buf, mdia, 'minf');
  const stbl = child(buf, minf, 'stbl');
  const table: Record<string, Box> = {
    mvhd: child(buf, moov, 'mvhd'),
    tkhd: child(buf, trak, 'tkhd'),
    mdhd: child(buf, mdia, 'mdhd'),
    hdlr: child(buf, mdia, 'hdlr'),
    vmhd: child(buf, minf, 'vmhd'),
    dref: child(buf, child(buf, minf, 'dinf'), 'dref'),
  };
  for (const b of boxes(buf, stbl.at, stbl.at + stbl.body.length)) table[b.type] = b;
  return table;
}

describe('crc32', () => {
  it('matches the CRC-32 check value', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32(Buffer.alloc(0))).toBe(0);
  });
});

describe('pngBytes', () => {
  it('writes the signature, then IHDR, IDAT and IEND with correct CRCs', () => {
    const png = pngBytes({ seed: 'a' });
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    const chunks = pngChunks(png);
    expect(chunks.map((c) => c.type)).toEqual(['IHDR', 'IDAT', 'IEND']);
    for (const c of chunks) {
      expect(c.crc).toBe(crc32(Buffer.concat([Buffer.from(c.type, 'latin1'), c.data])));
    }
  });

  it.each([
    [undefined, undefined, 64, 64],
    [1, 1, 1, 1],
    [200, 100, 200, 100],
    [7, 300, 7, 300],
  ])('IHDR says %s x %s -> %i x %i and IDAT inflates to one filtered row per line', (w, h, width, height) => {
    const [ihdr, idat] = pngChunks(pngBytes({ width: w, height: h }));
    expect(ihdr.data.readUInt32BE(0)).toBe(width);
    expect(ihdr.data.readUInt32BE(4)).toBe(height);
    expect([...ihdr.data.subarray(8)]).toEqual([8, 2, 0, 0, 0]); // 8-bit RGB, deflate, no interlace
    const raw = inflateSync(idat.data);
    const bytesPerPixel = 3;
    expect(raw.length).toBe(height * (1 + width * bytesPerPixel));
    for (let y = 0; y < height; y++) expect(raw[y * (1 + width * bytesPerPixel)]).toBe(0);
  });

  it('is deterministic per seed and differs between seeds', () => {
    expect(pngBytes({ seed: 'x' })).toEqual(pngBytes({ seed: 'x' }));
    expect(pngBytes({ seed: 'x' })).not.toEqual(pngBytes({ seed: 'y' }));
  });

  it('refuses sizes that are not positive integers', () => {
    expect(() => pngBytes({ width: 0 })).toThrow(RangeError);
    expect(() => pngBytes({ height: 1.5 })).toThrow(RangeError);
    expect(() => pngBytes({ width: 5000 })).toThrow(RangeError);
  });
});

describe('mp4Bytes', () => {
  it('starts with an isom ftyp, then moov, then mdat', () => {
    const mp4 = mp4Bytes({ seed: 'v' });
    const top = boxes(mp4);
    expect(top.map((b) => b.type)).toEqual(['ftyp', 'moov', 'mdat']);
    expect(mp4.toString('latin1', 4, 12)).toBe('ftypisom');
  });

  it('has one video track with the full sample table', () => {
    const mp4 = mp4Bytes({ seconds: 5 });
    const t = sampleTable(mp4);
    expect(Object.keys(t)).toEqual(
      expect.arrayContaining(['mvhd', 'tkhd', 'mdhd', 'hdlr', 'vmhd', 'dref', 'stsd', 'stts', 'stsc', 'stsz', 'stco']),
    );
    expect(t.hdlr.body.toString('latin1', 8, 12)).toBe('vide');
    expect(t.stsd.body.readUInt32BE(4)).toBe(1);
    expect(t.stsd.body.toString('latin1', 12, 16)).toBe('avc1');
    expect(t.tkhd.body.readUInt32BE(76) / 0x10000).toBe(64); // width, 16.16
    expect(t.tkhd.body.readUInt32BE(80) / 0x10000).toBe(48); // height

    // Sample sizes add up to the mdat payload, which starts where stco points.
    const count = t.stsz.body.readUInt32BE(8);
    const sizes = Array.from({ length: count }, (_, i) => t.stsz.body.readUInt32BE(12 + 4 * i));
    const mdat = boxes(mp4).find((b) => b.type === 'mdat')!;
    expect(t.stco.body.readUInt32BE(4)).toBe(1);
    expect(t.stco.body.readUInt32BE(8)).toBe(mdat.at);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(mdat.body.length);

    // stts covers every sample and adds up to the media duration.
    let sampleCount = 0;
    let ticks = 0;
    const runs = t.stts.body.readUInt32BE(4);
    for (let i = 0; i < runs; i++) {
      const c = t.stts.body.readUInt32BE(8 + 8 * i);
      sampleCount += c;
      ticks += c * t.stts.body.readUInt32BE(12 + 8 * i);
    }
    expect(sampleCount).toBe(count);
    const mdhdTimescale = t.mdhd.body.readUInt32BE(12);
    expect(ticks / mdhdTimescale).toBe(5);
    expect(t.mdhd.body.readUInt32BE(16) / mdhdTimescale).toBe(5);
  });

  it.each([0.5, 1.5, 5, 60, 3600])('reports %s s in mvhd and stays under 10 KB', (seconds) => {
    const mp4 = mp4Bytes({ seconds });
    expect(readMp4DurationSeconds(mp4)).toBe(seconds);
    expect(mp4.length).toBeLessThan(10 * 1024);
  });

  it('defaults to 5 s and is deterministic per seed', () => {
    expect(readMp4DurationSeconds(mp4Bytes({}))).toBe(5);
    expect(mp4Bytes({ seed: 's' })).toEqual(mp4Bytes({ seed: 's' }));
    expect(mp4Bytes({ seed: 's' })).not.toEqual(mp4Bytes({ seed: 't' }));
  });

  it('refuses durations that are not positive', () => {
    expect(() => mp4Bytes({ seconds: 0 })).toThrow(RangeError);
    expect(() => mp4Bytes({ seconds: Number.NaN })).toThrow(RangeError);
  });

  it('readMp4DurationSeconds rejects files without moov', () => {
    expect(() => readMp4DurationSeconds(Buffer.from('not an mp4 at all'))).toThrow();
  });
});

describe('wavBytes', () => {
  it('writes a PCM 16-bit mono RIFF/WAVE header', () => {
    const wav = wavBytes({ seed: 'm' });
    expect(wav.toString('latin1', 0, 4)).toBe('RIFF');
    expect(wav.readUInt32LE(4)).toBe(wav.length - 8);
    expect(wav.toString('latin1', 8, 16)).toBe('WAVEfmt ');
    expect(wav.readUInt32LE(16)).toBe(16);
    expect(wav.readUInt16LE(20)).toBe(1); // PCM
    expect(wav.readUInt16LE(22)).toBe(1); // mono
    expect(wav.readUInt32LE(24)).toBe(8000);
    expect(wav.readUInt32LE(28)).toBe(16000); // byte rate
    expect(wav.readUInt16LE(32)).toBe(2); // block align
    expect(wav.readUInt16LE(34)).toBe(16);
    expect(wav.toString('latin1', 36, 40)).toBe('data');
    expect(wav.readUInt32LE(40)).toBe(16000);
    expect(wav.length).toBe(44 + 16000);
  });

  it.each([
    [undefined, undefined, 1],
    [2, 8000, 2],
    [0.25, 44100, 0.25],
  ])('lasts %s s at %s Hz', (seconds, sampleRate, expected) => {
    const wav = wavBytes({ seconds, sampleRate });
    expect(readWavDurationSeconds(wav)).toBeCloseTo(expected, 6);
  });

  it('holds an audible tone that depends on the seed', () => {
    const wav = wavBytes({ seed: 'a' });
    let peak = 0;
    for (let i = 44; i < wav.length; i += 2) peak = Math.max(peak, Math.abs(wav.readInt16LE(i)));
    expect(peak).toBeGreaterThan(5000);
    expect(wav).toEqual(wavBytes({ seed: 'a' }));
    expect(wav).not.toEqual(wavBytes({ seed: 'b' }));
  });

  it('refuses bad durations and rates', () => {
    expect(() => wavBytes({ seconds: 0 })).toThrow(RangeError);
    expect(() => wavBytes({ sampleRate: 10 })).toThrow(RangeError);
    expect(() => readWavDurationSeconds(Buffer.from('RIFF0000AVI '))).toThrow();
  });
});
