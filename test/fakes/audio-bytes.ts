/** Audio files the synchronous audio fakes answer with: an MP3 of silent frames, or the WAV tone of src/media. */
import { wavBytes } from '../../src/media';

/** MPEG-1 Layer III, 128 kbit/s, 44.1 kHz frames: 417 bytes, 1152 samples (about 38 a second). */
const FRAME_BYTES = 417;
const FRAMES_PER_SECOND = 44_100 / 1152;

/** An ID3v2 header then `seconds` of silent MP3 frames (what a player and our sniffer take for audio/mpeg). */
export function mp3Bytes(seconds: number): Buffer {
  const id3 = Buffer.from([0x49, 0x44, 0x33, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]);
  const frame = Buffer.alloc(FRAME_BYTES);
  frame.set([0xff, 0xfb, 0x90, 0x64]);
  const frames = Math.max(1, Math.round(seconds * FRAMES_PER_SECOND));
  return Buffer.concat([id3, ...Array.from({ length: frames }, () => frame)]);
}

/** Seconds of audio in one of our fake files (mp3 by its frame count, wav by its header). */
export function audioSeconds(bytes: Buffer): number {
  if (bytes.subarray(0, 3).toString('latin1') === 'ID3') return Math.round((bytes.length - 10) / FRAME_BYTES / FRAMES_PER_SECOND);
  return Math.round((bytes.length - 44) / (8000 * 2));
}

/** The bytes and content type of `seconds` of audio in `format` (`mp3*` or `wav`/`pcm*`). */
export function audioFile(format: string, seconds: number, seed: string): { bytes: Buffer; contentType: string } {
  if (format.startsWith('mp3')) return { bytes: mp3Bytes(seconds), contentType: 'audio/mpeg' };
  return { bytes: wavBytes({ seconds, seed }), contentType: 'audio/wav' };
}
