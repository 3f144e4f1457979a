import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { mp4Bytes } from '../../media/mp4';
import { pngBytes } from '../../media/png';
import { wavBytes } from '../../media/wav';
import {
  ProviderError,
  type CancelOutcome,
  type ChannelAccess,
  type JobRef,
  type MediaKind,
  type MediaProvider,
  type MediaRequest,
  type OpenedOutput,
  type ProviderJob,
  type ProviderOutput,
  type SubmitContext,
} from '../types';
import { invalidRequest, submitErrorForCode, submitErrorForStatus, type JobFailureCode } from './failures';
import { parseMarkers } from './markers';
import { contentTypeFor, decodeJobId, encodeJobId, jobStateAt, parseOutputUrl, type MockJob } from './mock-job';
import { durationFor, parseMockSettings, type MockSettings } from './settings';

/** What the mock provider depends on. */
export interface MockProviderDeps {
  /** Milliseconds since the epoch; tests inject a clock instead of faking timers. Default `Date.now`. */
  now?: () => number;
}

export const MOCK_KINDS: readonly MediaKind[] = ['image', 'video', 'music'];
const DEFAULT_SECONDS: Record<'video' | 'music', number> = { video: 5, music: 10 };
const MAX_SECONDS = 86_400;
const MAX_IMAGES = 10;
const DEFAULT_IMAGE_SIDE = 64;
/** Images keep the requested aspect ratio but are scaled down to this long side: mock files stay small. */
const MAX_IMAGE_SIDE = 256;
/** Music files hold at most this much audio whatever was asked; usage still reports the requested seconds. */
const MAX_AUDIO_SECONDS = 2;
const AUDIO_SAMPLE_RATE = 8000;

/** A number in [0, 1) drawn from the task and attempt: the same submission always draws the same. */
function draw(ctx: SubmitContext): { value: number; nonce: string } {
  const h = createHash('sha256').update(`${ctx.taskId}:${ctx.attempt}`).digest();
  return { value: h.readUInt32BE(0) / 2 ** 32, nonce: h.subarray(4, 8).toString('hex') };
}

function imageSize(size: string | undefined): { width: number; height: number } {
  const m = size ? /^(\d+)x(\d+)$/i.exec(size.trim()) : null;
  if (!m) return { width: DEFAULT_IMAGE_SIDE, height: DEFAULT_IMAGE_SIDE };
  const [w, h] = [Number(m[1]), Number(m[2])];
  if (w < 1 || h < 1) throw invalidRequest(`size ${JSON.stringify(size)} has a zero side`);
  const scale = Math.min(1, MAX_IMAGE_SIDE / Math.max(w, h));
  return { width: Math.max(1, Math.round(w * scale)), height: Math.max(1, Math.round(h * scale)) };
}

function requestedSeconds(request: MediaRequest): number | null {
  if (request.kind === 'image') return null;
  const seconds = request.duration ?? DEFAULT_SECONDS[request.kind];
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > MAX_SECONDS) {
    throw invalidRequest(`duration must be in (0, ${MAX_SECONDS}] seconds, got ${String(request.duration)}`);
  }
  return seconds;
}

function imageCount(request: MediaRequest): number {
  if (request.kind !== 'image') return 1;
  const n = request.n ?? 1;
  if (!Number.isInteger(n) || n < 1 || n > MAX_IMAGES) {
    throw invalidRequest(`n must be an integer in 1..${MAX_IMAGES}, got ${String(request.n)}`);
  }
  return n;
}

function channelSubmitError(settings: MockSettings): ProviderError | undefined {
  const e = settings.submitError;
  if (e === undefined) return undefined;
  return typeof e === 'number'
    ? submitErrorForStatus(e, `settings.submitError=${e}`)
    : submitErrorForCode(e, `settings.submitError=${e}`);
}

function outputBytes(jobId: string, job: MockJob, index: number): Buffer {
  const seed = `${jobId}/${index}`;
  switch (job.kind) {
    case 'image':
      return pngBytes({ width: job.size?.width, height: job.size?.height, seed });
    case 'video':
      return mp4Bytes({ seconds: job.seconds ?? DEFAULT_SECONDS.video, seed });
    case 'music':
      return wavBytes({
        seconds: Math.min(job.seconds ?? DEFAULT_SECONDS.music, MAX_AUDIO_SECONDS),
        sampleRate: AUDIO_SAMPLE_RATE,
        seed,
      });
  }
}

function submitJob(channel: ChannelAccess, request: MediaRequest, ctx: SubmitContext, now: number): ProviderJob {
  const settings = parseMockSettings(channel.channelId, channel.settings);
  if (!MOCK_KINDS.includes(request.kind)) throw invalidRequest(`kind ${String(request.kind)} is not served`);
  const markers = parseMarkers(request.prompt);

  // A broken upstream refuses the submit before any job exists, so submit errors come first.
  const submitError = markers.submitError ?? channelSubmitError(settings);
  if (submitError) throw submitError;

  const durationMs = markers.durationMs ?? durationFor(settings, request.kind);
  const { value, nonce } = draw(ctx);
  let failureCode: JobFailureCode | undefined = markers.failure;
  if (!failureCode && value < settings.failRate) failureCode = 'upstream_unavailable';

  const job: MockJob = {
    kind: request.kind,
    createdAt: now,
    durationMs,
    failure: failureCode ? { code: failureCode, atMs: Math.round(durationMs * settings.failAt) } : null,
    count: imageCount(request),
    seconds: requestedSeconds(request),
    size: request.kind === 'image' ? imageSize(request.size) : null,
    model: request.model,
    nonce,
  };
  return jobStateAt(encodeJobId(job), job, now);
}

function cancelJob(ref: JobRef, now: number): CancelOutcome {
  // Nothing to stop and nothing to record: the gateway stops polling a job it cancelled.
  const state = jobStateAt(ref.jobId, decodeJobId(ref.jobId), now);
  return state.status === 'succeeded' || state.status === 'failed' ? 'already_finished' : 'cancelled';
}

function openJobOutput(ref: JobRef, output: ProviderOutput): OpenedOutput {
  const job = decodeJobId(ref.jobId);
  const target = output.url === undefined ? undefined : parseOutputUrl(output.url);
  if (!target || target.jobId !== ref.jobId || target.index >= job.count) {
    throw new ProviderError({
      code: 'not_found',
      message: 'mock: no such output for this job',
      retryable: false,
      httpStatus: 404,
    });
  }
  return {
    body: Readable.from([outputBytes(ref.jobId, job, target.index)]),
    contentType: contentTypeFor(job.kind),
  };
}

/** Runs synchronous work behind the async contract, so that a throw reaches the caller as a rejection. */
function settle<T>(work: () => T): Promise<T> {
  return new Promise((resolve) => resolve(work()));
}

/**
 * The built-in `mock` provider: simulates image, video and music jobs locally, with no upstream and no
 * in-memory state. A job's whole description is encoded in its id, so its status depends only on the
 * clock. See README.md beside this file for settings and prompt markers.
 */
/** The mock provider: its outputs are made in memory, so `openOutput` always gives the bytes. */
export type MockProvider = Omit<MediaProvider, 'openOutput'> & { openOutput(channel: ChannelAccess, job: JobRef, output: ProviderOutput): Promise<OpenedOutput> };

export function createMockProvider(deps: MockProviderDeps = {}): MockProvider {
  const now = deps.now ?? Date.now;
  return {
    id: 'mock',
    kinds: MOCK_KINDS,
    // The mock reads no option at all; these are the fields it does read, for the same admission rule.
    pricedKeys: ['model', 'duration', 'n', 'size'],
    deliveredFrom: 'the job encoded in its id (requested seconds, image count)',
    submit: (channel, request, ctx) => settle(() => submitJob(channel, request, ctx, now())),
    status: (_channel, ref) => settle(() => jobStateAt(ref.jobId, decodeJobId(ref.jobId), now())),
    cancel: (_channel, ref) => settle(() => cancelJob(ref, now())),
    openOutput: (_channel, ref, output) => settle(() => openJobOutput(ref, output)),
  };
}
