import { z } from 'zod';
import { ProviderError, type MediaKind, type ProviderJob, type ProviderOutput } from '../types';
import { JOB_FAILURE_CODES, jobFailureInfo, type JobFailureCode } from './failures';

/**
 * Everything about a mock job, carried in its id so that any worker, even one started after a crash,
 * computes the same status from the clock alone.
 */
export interface MockJob {
  kind: MediaKind;
  /** Submit time, ms since the epoch. */
  createdAt: number;
  /** Run time in ms, queue time included. */
  durationMs: number;
  /** Set when the job will fail in flight: how, and when (ms after `createdAt`). */
  failure: { code: JobFailureCode; atMs: number } | null;
  /** Number of outputs (images; 1 for video and music). */
  count: number;
  /** Requested seconds of video or music (billed), null for images. */
  seconds: number | null;
  /** Image size in pixels, null for video and music. */
  size: { width: number; height: number } | null;
  model: string;
  /** Short hash of task id and attempt, so two submissions in the same millisecond get different ids. */
  nonce: string;
}

/** Share of the run time spent `queued` before `processing` starts. */
const QUEUED_SHARE = 0.1;
const PREFIX = 'mock_';

const CONTENT_TYPES: Record<MediaKind, string> = { image: 'image/png', video: 'video/mp4', music: 'audio/wav' };

/** The id's JSON: short keys keep the id (stored in workflow history and asset keys) small. */
const Wire = z.object({
  k: z.enum(['image', 'video', 'music']),
  t: z.number().int().nonnegative(),
  d: z.number().int().nonnegative(),
  f: z.object({ c: z.enum(JOB_FAILURE_CODES), a: z.number().int().nonnegative() }).nullable(),
  n: z.number().int().positive(),
  s: z.number().positive().nullable(),
  p: z.tuple([z.number().int().positive(), z.number().int().positive()]).nullable(),
  m: z.string(),
  h: z.string(),
});
type Wire = z.infer<typeof Wire>;

/** `mock_` + base64url of the job's JSON. */
export function encodeJobId(job: MockJob): string {
  const wire: Wire = {
    k: job.kind,
    t: job.createdAt,
    d: job.durationMs,
    f: job.failure && { c: job.failure.code, a: job.failure.atMs },
    n: job.count,
    s: job.seconds,
    p: job.size && [job.size.width, job.size.height],
    m: job.model,
    h: job.nonce,
  };
  return PREFIX + Buffer.from(JSON.stringify(wire), 'utf8').toString('base64url');
}

function notFound(jobId: string): ProviderError {
  const shown = jobId.length > 40 ? `${jobId.slice(0, 40)}...` : jobId;
  return new ProviderError({
    code: 'not_found',
    message: `mock: no such job ${JSON.stringify(shown)}`,
    retryable: false,
    httpStatus: 404,
  });
}

/** Reads a job back from its id; anything that is not a mock job id throws `not_found`. */
export function decodeJobId(jobId: string): MockJob {
  if (!jobId.startsWith(PREFIX)) throw notFound(jobId);
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(jobId.slice(PREFIX.length), 'base64url').toString('utf8'));
  } catch {
    throw notFound(jobId);
  }
  const parsed = Wire.safeParse(json);
  if (!parsed.success) throw notFound(jobId);
  const w = parsed.data;
  return {
    kind: w.k,
    createdAt: w.t,
    durationMs: w.d,
    failure: w.f && { code: w.f.c, atMs: w.f.a },
    count: w.n,
    seconds: w.s,
    size: w.p && { width: w.p[0], height: w.p[1] },
    model: w.m,
    nonce: w.h,
  };
}

/** `mock://<jobId>/<index>`: openOutput makes the bytes from it, so nothing needs to be stored. */
export function outputUrl(jobId: string, index: number): string {
  return `mock://${jobId}/${index}`;
}

/** The job id and output index in a mock output url, or undefined when the url is not one. */
export function parseOutputUrl(url: string): { jobId: string; index: number } | undefined {
  const m = /^mock:\/\/(mock_[A-Za-z0-9_-]+)\/(\d+)$/.exec(url);
  return m ? { jobId: m[1], index: Number(m[2]) } : undefined;
}

export function contentTypeFor(kind: MediaKind): string {
  return CONTENT_TYPES[kind];
}

/** Progress the job shows `elapsed` ms after submit, ignoring failure: 0 while queued, then 0..99. */
function progressAt(job: MockJob, elapsed: number): number {
  const queuedMs = Math.round(job.durationMs * QUEUED_SHARE);
  if (elapsed < queuedMs) return 0;
  const runMs = job.durationMs - queuedMs;
  if (runMs <= 0) return 99;
  return Math.min(99, Math.floor(((elapsed - queuedMs) * 100) / runMs));
}

/**
 * The job as the provider reports it at `now`: `queued` for the first 10% of its duration, then
 * `processing` with progress rising linearly, then `succeeded` with outputs (or `failed` at its failure time).
 */
export function jobStateAt(jobId: string, job: MockJob, now: number): ProviderJob {
  const elapsed = Math.max(0, now - job.createdAt);
  if (job.failure && elapsed >= job.failure.atMs) {
    return {
      jobId,
      status: 'failed',
      progress: progressAt(job, job.failure.atMs),
      outputs: [],
      error: jobFailureInfo(job.failure.code).toInfo(),
    };
  }
  if (elapsed >= job.durationMs) {
    const outputs: ProviderOutput[] = Array.from({ length: job.count }, (_, i) => ({
      url: outputUrl(jobId, i),
      contentType: contentTypeFor(job.kind),
    }));
    return {
      jobId,
      status: 'succeeded',
      progress: 100,
      outputs,
      usage: job.kind === 'image' ? { images: job.count } : { seconds: job.seconds ?? undefined },
    };
  }
  const queued = elapsed < Math.round(job.durationMs * QUEUED_SHARE);
  return { jobId, status: queued ? 'queued' : 'processing', progress: progressAt(job, elapsed), outputs: [] };
}
