import { createHash } from 'node:crypto';

/** Options for {@link mp4Bytes}; every field has a default. */
export interface Mp4Options {
  /** Playing time in seconds, > 0 and at most 86400 (ms precision). Default 5. */
  seconds?: number;
  /** Picks the picture's colours: the same seed always gives the same bytes. Default ''. */
  seed?: string;
}

/*
 * The file is a real, decodable H.264 (Constrained Baseline) stream in an ISO-BMFF container:
 * one IDR frame made of I_PCM macroblocks (raw samples, so no entropy coder is needed), then P frames
 * whose every macroblock is skipped (a few bytes each). The picture is a still gradient; the frame count
 * is capped so that any duration stays a few kilobytes.
 */

const WIDTH = 64;
const HEIGHT = 48;
const MB_COLS = WIDTH / 16;
const MB_ROWS = HEIGHT / 16;
const FPS = 10;
const MAX_FRAMES = 120;
const TIMESCALE = 1000;
const MAX_SECONDS = 86_400;
/** log2(MaxFrameNum) in the SPS; frame_num is written with this many bits. */
const LOG2_MAX_FRAME_NUM = 4;

class BitWriter {
  private readonly bytes: number[] = [];
  private current = 0;
  private used = 0;

  bit(b: number): this {
    this.current = (this.current << 1) | (b & 1);
    if (++this.used === 8) {
      this.bytes.push(this.current);
      this.current = 0;
      this.used = 0;
    }
    return this;
  }

  u(bits: number, value: number): this {
    for (let i = bits - 1; i >= 0; i--) this.bit(Math.floor(value / 2 ** i) & 1);
    return this;
  }

  /** Unsigned Exp-Golomb. */
  ue(value: number): this {
    const v = value + 1;
    const len = Math.floor(Math.log2(v));
    return this.u(len, 0).u(len + 1, v);
  }

  /** Signed Exp-Golomb. */
  se(value: number): this {
    return this.ue(value <= 0 ? -2 * value : 2 * value - 1);
  }

  alignZero(): this {
    while (this.used !== 0) this.bit(0);
    return this;
  }

  byte(value: number): this {
    // Byte-aligned (every PCM sample): one push instead of eight bit writes; the mock's video outputs are
    // made on every persistAssets, and bit by bit they cost the worker ~15 ms of CPU each.
    if (this.used === 0) {
      this.bytes.push(value & 0xff);
      return this;
    }
    return this.u(8, value);
  }

  /** rbsp_trailing_bits: a stop bit, then zeros to the byte boundary. */
  trailing(): Buffer {
    this.bit(1).alignZero();
    return Buffer.from(this.bytes);
  }
}

/** A NAL unit (header byte + RBSP with emulation prevention bytes), without a start code or length. */
function nal(refIdc: number, type: number, rbsp: Buffer): Buffer {
  const out: number[] = [(refIdc << 5) | type];
  let zeros = 0;
  for (const b of rbsp) {
    if (zeros >= 2 && b <= 3) {
      out.push(3);
      zeros = 0;
    }
    out.push(b);
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return Buffer.from(out);
}

function sps(): Buffer {
  const w = new BitWriter()
    .byte(66) // profile_idc: Baseline
    .byte(0xc0) // constraint_set0 and 1: Constrained Baseline
    .byte(10) // level_idc 1.0
    .ue(0) // seq_parameter_set_id
    .ue(LOG2_MAX_FRAME_NUM - 4)
    .ue(2) // pic_order_cnt_type 2: output order = decode order
    .ue(1) // max_num_ref_frames
    .bit(0) // gaps_in_frame_num_value_allowed_flag
    .ue(MB_COLS - 1)
    .ue(MB_ROWS - 1)
    .bit(1) // frame_mbs_only_flag
    .bit(1) // direct_8x8_inference_flag
    .bit(0) // frame_cropping_flag
    .bit(0); // vui_parameters_present_flag
  return nal(3, 7, w.trailing());
}

function pps(): Buffer {
  const w = new BitWriter()
    .ue(0) // pic_parameter_set_id
    .ue(0) // seq_parameter_set_id
    .bit(0) // entropy_coding_mode_flag: CAVLC
    .bit(0) // bottom_field_pic_order_in_frame_present_flag
    .ue(0) // num_slice_groups_minus1
    .ue(0) // num_ref_idx_l0_default_active_minus1
    .ue(0) // num_ref_idx_l1_default_active_minus1
    .bit(0) // weighted_pred_flag
    .u(2, 0) // weighted_bipred_idc
    .se(0) // pic_init_qp_minus26
    .se(0) // pic_init_qs_minus26
    .se(0) // chroma_qp_index_offset
    .bit(1) // deblocking_filter_control_present_flag
    .bit(0) // constrained_intra_pred_flag
    .bit(0); // redundant_pic_cnt_present_flag
  return nal(3, 8, w.trailing());
}

/** Sample values stay inside video range (16..235) so no PCM byte is 0 (forbidden in early H.264 editions). */
function level(from: number, to: number, t: number): number {
  return Math.round(from + (to - from) * t);
}

function idrFrame(seed: string): Buffer {
  const h = createHash('sha256').update(`mp4:${seed}`).digest();
  const y0 = 40 + (h[0] % 60);
  const y1 = 140 + (h[1] % 90);
  const cb = 40 + (h[2] % 176);
  const cr = 40 + (h[3] % 176);

  const w = new BitWriter()
    .ue(0) // first_mb_in_slice
    .ue(7) // slice_type: I (all slices of the picture)
    .ue(0) // pic_parameter_set_id
    .u(LOG2_MAX_FRAME_NUM, 0) // frame_num
    .ue(0) // idr_pic_id
    .bit(0) // no_output_of_prior_pics_flag
    .bit(0) // long_term_reference_flag
    .se(0) // slice_qp_delta
    .ue(1); // disable_deblocking_filter_idc: off
  const span = WIDTH + HEIGHT - 2;
  for (let my = 0; my < MB_ROWS; my++) {
    for (let mx = 0; mx < MB_COLS; mx++) {
      w.ue(25).alignZero(); // mb_type I_PCM, then pcm_alignment_zero_bits
      for (let y = 0; y < 16; y++) {
        for (let x = 0; x < 16; x++) w.byte(level(y0, y1, (mx * 16 + x + my * 16 + y) / span));
      }
      for (let i = 0; i < 64; i++) w.byte(level(cb, 255 - cb, (mx * 8 + (i % 8)) / (WIDTH / 2)));
      for (let i = 0; i < 64; i++) w.byte(level(cr, 255 - cr, (my * 8 + Math.floor(i / 8)) / (HEIGHT / 2)));
    }
  }
  return nal(3, 5, w.trailing());
}

function skipFrame(frameNum: number): Buffer {
  const w = new BitWriter()
    .ue(0) // first_mb_in_slice
    .ue(5) // slice_type: P (all slices of the picture)
    .ue(0) // pic_parameter_set_id
    .u(LOG2_MAX_FRAME_NUM, frameNum % 2 ** LOG2_MAX_FRAME_NUM)
    .bit(0) // num_ref_idx_active_override_flag
    .bit(0) // ref_pic_list_modification_flag_l0
    .bit(0) // adaptive_ref_pic_marking_mode_flag: sliding window
    .se(0) // slice_qp_delta
    .ue(1) // disable_deblocking_filter_idc: off
    .ue(MB_COLS * MB_ROWS); // mb_skip_run: the whole picture
  return nal(2, 1, w.trailing());
}

function u8(v: number): Buffer {
  return Buffer.from([v & 0xff]);
}
function u16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v, 0);
  return b;
}
function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0, 0);
  return b;
}
function zeros(n: number): Buffer {
  return Buffer.alloc(n);
}

function box(type: string, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([u32(8 + body.length), Buffer.from(type, 'latin1'), body]);
}

function fullBox(type: string, version: number, flags: number, ...parts: Buffer[]): Buffer {
  return box(type, u32(((version & 0xff) << 24) | (flags & 0xffffff)), ...parts);
}

const UNITY_MATRIX = Buffer.concat([0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000].map(u32));

function sampleEntry(spsNal: Buffer, ppsNal: Buffer): Buffer {
  const avcC = box(
    'avcC',
    u8(1), // configurationVersion
    u8(spsNal[1]), // profile
    u8(spsNal[2]), // profile compatibility
    u8(spsNal[3]), // level
    u8(0xff), // 4-byte NAL lengths
    u8(0xe1), // one SPS
    u16(spsNal.length),
    spsNal,
    u8(1), // one PPS
    u16(ppsNal.length),
    ppsNal,
  );
  const compressor = zeros(32);
  return box(
    'avc1',
    zeros(6),
    u16(1), // data_reference_index
    zeros(16), // pre_defined and reserved
    u16(WIDTH),
    u16(HEIGHT),
    u32(0x00480000), // 72 dpi
    u32(0x00480000),
    u32(0),
    u16(1), // frame_count per sample
    compressor,
    u16(0x0018), // depth
    u16(0xffff), // pre_defined -1
    avcC,
  );
}

function moov(durationMs: number, sampleSizes: number[], sampleDeltas: number[], chunkOffset: number): Buffer {
  const mvhd = fullBox(
    'mvhd',
    0,
    0,
    u32(0), // creation_time
    u32(0), // modification_time
    u32(TIMESCALE),
    u32(durationMs),
    u32(0x00010000), // rate 1.0
    u16(0x0100), // volume 1.0
    zeros(10),
    UNITY_MATRIX,
    zeros(24),
    u32(2), // next_track_ID
  );
  const tkhd = fullBox(
    'tkhd',
    0,
    0x000003, // enabled, in movie
    u32(0),
    u32(0),
    u32(1), // track_ID
    u32(0),
    u32(durationMs),
    zeros(8),
    u16(0), // layer
    u16(0), // alternate_group
    u16(0), // volume: video track
    u16(0),
    UNITY_MATRIX,
    u32(WIDTH * 0x10000),
    u32(HEIGHT * 0x10000),
  );
  const mdhd = fullBox('mdhd', 0, 0, u32(0), u32(0), u32(TIMESCALE), u32(durationMs), u16(0x55c4) /* und */, u16(0));
  const hdlr = fullBox('hdlr', 0, 0, u32(0), Buffer.from('vide'), zeros(12), Buffer.from('VideoHandler\0', 'latin1'));
  const vmhd = fullBox('vmhd', 0, 1, u16(0), zeros(6));
  const dinf = box('dinf', fullBox('dref', 0, 0, u32(1), fullBox('url ', 0, 1)));

  const runs: Array<[count: number, delta: number]> = [];
  for (const d of sampleDeltas) {
    const last = runs[runs.length - 1];
    if (last && last[1] === d) last[0]++;
    else runs.push([1, d]);
  }
  const stbl = box(
    'stbl',
    fullBox('stsd', 0, 0, u32(1), sampleEntry(sps(), pps())),
    fullBox('stts', 0, 0, u32(runs.length), ...runs.flatMap(([c, d]) => [u32(c), u32(d)])),
    fullBox('stss', 0, 0, u32(1), u32(1)), // only the first sample is a sync sample
    fullBox('stsc', 0, 0, u32(1), u32(1), u32(sampleSizes.length), u32(1)), // one chunk holds every sample
    fullBox('stsz', 0, 0, u32(0), u32(sampleSizes.length), ...sampleSizes.map(u32)),
    fullBox('stco', 0, 0, u32(1), u32(chunkOffset)),
  );
  const minf = box('minf', vmhd, dinf, stbl);
  const mdia = box('mdia', mdhd, hdlr, minf);
  return box('moov', mvhd, box('trak', tkhd, mdia));
}

/**
 * A small, decodable MP4 (ftyp, moov, mdat; H.264 still picture, 64x48) whose mvhd duration is `seconds`.
 * Stays under 10 KB for any duration. Default 5 s.
 */
export function mp4Bytes(opts: Mp4Options = {}): Buffer {
  const seconds = opts.seconds ?? 5;
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > MAX_SECONDS) {
    throw new RangeError(`mp4 seconds must be in (0, ${MAX_SECONDS}], got ${String(opts.seconds)}`);
  }
  const durationMs = Math.max(1, Math.round(seconds * TIMESCALE));
  const frames = Math.min(MAX_FRAMES, Math.max(1, Math.round(seconds * FPS)));
  const base = Math.floor(durationMs / frames);
  const deltas = Array.from({ length: frames }, (_, i) => (i < frames - 1 ? base : durationMs - base * (frames - 1)));

  const samples = [idrFrame(opts.seed ?? '')];
  for (let i = 1; i < frames; i++) samples.push(skipFrame(i));
  // Each sample is its NAL units with 4-byte length prefixes (avcC lengthSizeMinusOne = 3).
  const sampleBufs = samples.map((n) => Buffer.concat([u32(n.length), n]));
  const sizes = sampleBufs.map((s) => s.length);

  const ftyp = box('ftyp', Buffer.from('isom'), u32(0x200), Buffer.from('isomiso2avc1mp41'));
  // stco holds an absolute offset that does not change moov's size: measure once, then build for real.
  const moovSize = moov(durationMs, sizes, deltas, 0).length;
  const mdatHeader = 8;
  const movie = moov(durationMs, sizes, deltas, ftyp.length + moovSize + mdatHeader);
  return Buffer.concat([ftyp, movie, box('mdat', ...sampleBufs)]);
}

function findBox(buf: Buffer, start: number, end: number, type: string): { start: number; end: number } | undefined {
  let offset = start;
  while (offset + 8 <= end) {
    let size = buf.readUInt32BE(offset);
    let header = 8;
    if (size === 1) {
      if (offset + 16 > end) return undefined;
      size = Number(buf.readBigUInt64BE(offset + 8));
      header = 16;
    } else if (size === 0) {
      size = end - offset; // box runs to the end of its parent
    }
    if (size < header || offset + size > end) return undefined;
    if (buf.toString('latin1', offset + 4, offset + 8) === type) return { start: offset + header, end: offset + size };
    offset += size;
  }
  return undefined;
}

/** The movie's duration in seconds from moov/mvhd (versions 0 and 1). Throws when the file has none. */
export function readMp4DurationSeconds(buf: Buffer): number {
  const moovBox = findBox(buf, 0, buf.length, 'moov');
  const mvhd = moovBox && findBox(buf, moovBox.start, moovBox.end, 'mvhd');
  if (!mvhd) throw new Error('MP4 file has no moov/mvhd box');
  const version = buf[mvhd.start];
  if (version === 1) {
    if (mvhd.start + 32 > mvhd.end) throw new Error('mvhd box is truncated');
    const timescale = buf.readUInt32BE(mvhd.start + 20);
    if (timescale === 0) throw new Error('mvhd timescale is 0');
    return Number(buf.readBigUInt64BE(mvhd.start + 24)) / timescale;
  }
  if (mvhd.start + 20 > mvhd.end) throw new Error('mvhd box is truncated');
  const timescale = buf.readUInt32BE(mvhd.start + 12);
  const duration = buf.readUInt32BE(mvhd.start + 16);
  if (timescale === 0) throw new Error('mvhd timescale is 0');
  return duration / timescale;
}
