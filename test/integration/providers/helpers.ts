/** Shared helpers of the provider adapter tests (adapters against their fakes over real HTTP). */
import type { Readable } from 'node:stream';
import type { Scripted } from '../../fakes/fake-server';
import { createOutboundClient } from '../../../src/net/outbound-client';
import { createOutboundGuard } from '../../../src/net/outbound-guard';
import { useProviderOutboundGuard } from '../../../src/providers/transport';
import {
  ProviderError,
  type ChannelAccess,
  type JobRef,
  type MediaProvider,
  type MediaRequest,
  type ProviderJob,
  type ProviderOutput,
} from '../../../src/providers/types';

/** A channel pointing at a fake. */
export function channelFor(fake: { url: string; apiKey: string }, settings: Record<string, unknown> = {}): ChannelAccess {
  return { channelId: 'ch_test', baseUrl: fake.url, apiKey: fake.apiKey, settings };
}

/** A media request with defaults. */
export function mediaRequest(partial: Partial<MediaRequest> & Pick<MediaRequest, 'kind' | 'model'>): MediaRequest {
  return { prompt: 'a red fox in the snow', references: {}, options: {}, ...partial };
}

export const ctx = { taskId: 'task_test', attempt: 1 };

/** The ProviderError a promise rejects with (fails the test when it resolves or throws something else). */
export async function providerError(promise: Promise<unknown>): Promise<ProviderError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ProviderError) return err;
    throw new Error(`expected a ProviderError, got ${String(err)}`);
  }
  throw new Error('expected a ProviderError, but the call succeeded');
}

/** Polls status() until the job is final; returns every observation. */
export async function pollToEnd(
  provider: MediaProvider,
  channel: ChannelAccess,
  ref: JobRef,
  timeoutMs = 5000,
): Promise<{ final: ProviderJob; seen: ProviderJob[] }> {
  const seen: ProviderJob[] = [];
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const job = await provider.status(channel, ref);
    seen.push(job);
    if (job.status === 'succeeded' || job.status === 'failed' || job.status === 'cancelled') return { final: job, seen };
    await sleep(15);
  }
  throw new Error(`job ${ref.jobId} did not finish within ${timeoutMs} ms (last: ${seen[seen.length - 1]?.status})`);
}

/** Submits and polls to the end. */
export async function run(
  provider: MediaProvider,
  channel: ChannelAccess,
  request: MediaRequest,
): Promise<{ submitted: ProviderJob; final: ProviderJob; seen: ProviderJob[]; ref: JobRef }> {
  const submitted = await provider.submit(channel, request, ctx);
  const ref: JobRef = { jobId: submitted.jobId, handles: submitted.handles, request };
  const { final, seen } = await pollToEnd(provider, channel, ref);
  return { submitted, final, seen, ref };
}

/** A plain GET of a URL: status, bytes, content type. */
export async function download(url: string): Promise<{ status: number; bytes: Buffer; contentType: string | null }> {
  const res = await fetch(url);
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()), contentType: res.headers.get('content-type') };
}

/** The guard as the tests' gateway has it (OUTBOUND_ALLOWLIST of the harness). */
const harnessGuard = createOutboundGuard({ allowlist: ['127.0.0.1/32', '::1'] });
const outbound = createOutboundClient(harnessGuard);
// Adapters called directly here make their API calls under the same guard as in the gateway's worker.
useProviderOutboundGuard(harnessGuard);

/**
 * An output as the gateway's asset step gets it: the adapter's bytes, or its request (trusted on the
 * channel's origin only, credentials dropped off it) or the plain URL, fetched through the guarded client.
 */
export async function openThroughGateway(
  provider: MediaProvider,
  channel: ChannelAccess,
  ref: JobRef,
  output: ProviderOutput,
): Promise<{ status: number; bytes: Buffer; contentType: string | null }> {
  const opened = provider.openOutput ? await provider.openOutput(channel, ref, output) : null;
  if (opened && 'body' in opened) return { status: 200, bytes: await readAll(opened.body), contentType: opened.contentType };
  const request = opened?.request;
  const url = request?.url ?? output.url!;
  const onChannel = new URL(url).origin === new URL(channel.baseUrl).origin;
  const res = await outbound.request(url, { timeoutMs: 10_000, maxRedirects: 5, headers: request?.headers ?? { accept: '*/*' }, trustFirstHop: request !== undefined && onChannel });
  const contentType = res.headers['content-type'] ?? null;
  return { status: res.status, bytes: await readAll(res.body), contentType };
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export function isPng(bytes: Buffer): boolean {
  return bytes.subarray(0, 8).equals(PNG_SIGNATURE);
}

export function isMp4(bytes: Buffer): boolean {
  return bytes.subarray(4, 8).toString('latin1') === 'ftyp';
}

export function isWav(bytes: Buffer): boolean {
  return bytes.subarray(0, 4).toString('latin1') === 'RIFF' && bytes.subarray(8, 12).toString('latin1') === 'WAVE';
}

/** Asserts that no part (8 characters or more) of `key` survives in the error's message. */
export function expectNoKey(err: { message: string }, key: string): void {
  expect(err.message).not.toContain(key);
  for (let i = 0; i + 8 <= key.length; i++) expect(err.message).not.toContain(key.slice(i, i + 8));
}

/** A closed local port (connection refused). */
export async function deadUrl(path: string): Promise<string> {
  const net = await import('node:net');
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}${path}`;
}

/** A submit fault and what the adapter must make of it. */
export interface FailureCase {
  name: string;
  fault: Scripted;
  code: string;
  retryable: boolean;
  retryAfterMs?: number;
  httpStatus?: number;
  settings?: Record<string, unknown>;
}

/** The submit failures every adapter must classify the same way (fakes render them in their own shapes). */
export const SUBMIT_FAILURES: FailureCase[] = [
  { name: '400 content policy', fault: 'policy', code: 'content_policy_violation', retryable: false },
  { name: '401', fault: 'unauthorized', code: 'upstream_auth_failed', retryable: false, httpStatus: 401 },
  { name: '422', fault: { kind: 'invalid', status: 422 }, code: 'invalid_request', retryable: false, httpStatus: 422 },
  { name: '400 invalid', fault: { kind: 'invalid', status: 400 }, code: 'invalid_request', retryable: false, httpStatus: 400 },
  { name: '429 Retry-After seconds', fault: { kind: 'rate_limited', retryAfter: '2' }, code: 'rate_limited', retryable: true, retryAfterMs: 2000, httpStatus: 429 },
  { name: '429 retry-after-ms wins', fault: { kind: 'rate_limited', retryAfter: '5', retryAfterMs: 1500 }, code: 'rate_limited', retryable: true, retryAfterMs: 1500 },
  { name: '408', fault: { kind: 'server_error', status: 408 }, code: 'upstream_unavailable', retryable: true, httpStatus: 408 },
  { name: '409', fault: { kind: 'server_error', status: 409 }, code: 'upstream_unavailable', retryable: true, httpStatus: 409 },
  { name: '500', fault: 'server_error', code: 'upstream_unavailable', retryable: true, httpStatus: 500 },
  { name: '502 html', fault: 'bad_gateway', code: 'upstream_unavailable', retryable: true, httpStatus: 502 },
  { name: '503', fault: 'unavailable', code: 'upstream_unavailable', retryable: true, httpStatus: 503 },
  { name: 'hang', fault: 'hang', code: 'timeout', retryable: true, settings: { timeoutMs: 250 } },
  { name: 'connection reset', fault: 'reset', code: 'connection_error', retryable: true },
  { name: 'malformed JSON', fault: 'malformed', code: 'bad_response', retryable: true },
];

/** Checks one failure case against an error. */
export function expectFailure(err: ProviderError, c: FailureCase): void {
  expect({ code: err.code, retryable: err.retryable }).toEqual({ code: c.code, retryable: c.retryable });
  if (c.retryAfterMs !== undefined) expect(err.retryAfterMs).toBe(c.retryAfterMs);
  if (c.httpStatus !== undefined) expect(err.httpStatus).toBe(c.httpStatus);
}

/** What stepThrough saw at each stage. */
export interface Steps {
  submitted: ProviderJob;
  queued: ProviderJob;
  running: ProviderJob;
  final: ProviderJob;
  ref: JobRef;
}

/**
 * Drives one job through its stages with the fake's clock controls, so the test sees every status
 * whatever the machine's load: held in the queue, started (progress pinned), then finished.
 */
export async function stepThrough(
  provider: MediaProvider,
  channel: ChannelAccess,
  request: MediaRequest,
  fake: { planNextJobs(...p: { queueMs: number; runMs: number }[]): unknown; startJob(id: string): unknown; finishJob(id: string): unknown; setJobProgress(id: string, p: number): unknown },
  progress = 37,
): Promise<Steps> {
  fake.planNextJobs({ queueMs: Infinity, runMs: Infinity });
  const submitted = await provider.submit(channel, request, ctx);
  const ref: JobRef = { jobId: submitted.jobId, handles: submitted.handles, request };
  const queued = await provider.status(channel, ref);
  fake.startJob(submitted.jobId);
  fake.setJobProgress(submitted.jobId, progress);
  const running = await provider.status(channel, ref);
  fake.finishJob(submitted.jobId);
  const final = await provider.status(channel, ref);
  return { submitted, queued, running, final, ref };
}

/** The shared SUBMIT_FAILURES table, each case classified by `provider` against its fake (key never echoed). */
export function itClassifiesSubmitFailures(
  provider: MediaProvider,
  fake: () => { url: string; apiKey: string; failNextSubmits(...outcomes: Scripted[]): unknown },
  request: MediaRequest,
): void {
  it.each(SUBMIT_FAILURES.map((c) => [c.name, c] as const))('submit: %s', async (_name, c) => {
    fake().failNextSubmits(c.fault);
    const err = await providerError(provider.submit(channelFor(fake(), c.settings), request, ctx));
    expectFailure(err, c);
    expectNoKey(err, fake().apiKey);
  });
}
