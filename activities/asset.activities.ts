import { ApplicationFailure, Context } from '@temporalio/activity';
import { Readable } from 'node:stream';
import { peekStream, storedContentType } from '../src/media/sniff';
import { decodeDataUri } from '../src/net/data-uri';
import { createOutboundClient, OutboundRefusedError, OutboundTimeoutError } from '../src/net/outbound-client';
import { loadChannelAccess } from '../src/routing/channel-access';
import { extensionFor } from '../src/storage/asset-links';
import { AssetTooLargeError } from '../src/storage/asset-store';
import { ProviderError, type OutputRequest, type ProviderOutput } from '../src/providers/types';
import type { AttemptFailure, FinishedJob, JobHandle, MediaKind, MediaTaskRequest } from '../workflows/types';
import type { ActivityDeps } from './deps';
import { withHeartbeat } from './heartbeat';

/** Default time allowed to download one output, headers and body (ASSET_DOWNLOAD_TIMEOUT_MS). */
const DEFAULT_DOWNLOAD_TIMEOUT_MS = 100_000;
/** Redirects an output URL may take (each hop checked by the guard). */
const MAX_REDIRECTS = 5;
/**
 * Attempts of the asset step after which a download that keeps breaking (cut bodies, resets, timeouts,
 * 5xx) is given up: the task then fails with a refund instead of retrying until its deadline.
 */
const MAX_DOWNLOAD_ATTEMPTS = 4;

export function createAssetActivities(deps: ActivityDeps) {
  const client = createOutboundClient(deps.outbound);
  const maxBytes = deps.maxAssetBytes ?? Number.POSITIVE_INFINITY;
  const timeoutMs = deps.assetDownloadTimeoutMs ?? DEFAULT_DOWNLOAD_TIMEOUT_MS;

  return {
    /**
     * Copies every output into our store (streaming, capped, with size and SHA-256) and records it with
     * the content type its bytes prove (see storedContentType). Idempotent: an output already recorded
     * for (task, position) is not fetched again. An output the guard refuses or larger than the cap fails
     * the task (non-retryable, with the classified cause); a download that keeps breaking does too, after
     * a few attempts.
     */
    async persistAssets(input: {
      taskId: string;
      channelId: string;
      kind: MediaKind;
      upstreamModel: string;
      request: MediaTaskRequest;
      job: JobHandle;
      outputs: FinishedJob['outputs'];
    }): Promise<{ assetIds: string[] }> {
      const em = deps.orm.em.fork();
      const conn = em.getConnection();
      const task = (await conn.execute<{ account_id: string }[]>(`select account_id from tasks where id = ?`, [input.taskId]))[0];
      if (!task) throw ApplicationFailure.nonRetryable(`Task ${input.taskId} does not exist`, 'TaskNotFound');
      const { provider: providerId, access } = await loadChannelAccess(em, deps.box, input.channelId);
      const provider = deps.providers.get(providerId);
      const assetIds: string[] = [];
      for (const [position, output] of input.outputs.entries()) {
        if (!Context.current().info.isLocal) Context.current().heartbeat({ position });
        const existing = await conn.execute<{ id: string }[]>(`select id from assets where task_id = ? and position = ?`, [input.taskId, position]);
        if (existing[0]) {
          assetIds.push(existing[0].id);
          continue;
        }
        const stored = await withHeartbeat(() => copyOutput(output, position), { position }).catch((error: unknown) => {
          throw classify(error, position);
        });
        const assetId = `asset_${input.taskId.replace(/^task_/, '')}_${position}`;
        await conn.execute(
          `insert into assets (id, task_id, account_id, position, content_type, bytes, sha256, storage_key)
           values (?, ?, ?, ?, ?, ?, ?, ?) on conflict (task_id, position) do nothing`,
          [assetId, input.taskId, task.account_id, position, stored.contentType, stored.bytes, stored.sha256, stored.storageKey],
        );
        assetIds.push(assetId);
      }
      return { assetIds };

      /** Opens one output, recognises it from its first bytes, and streams it into the store. */
      async function copyOutput(output: FinishedJob['outputs'][number], position: number) {
        const opened = await openOutput(output, position);
        const { head, body } = await peekStream(opened);
        const contentType = storedContentType(input.kind, head);
        const storageKey = `tasks/${input.taskId}/${position}.${extensionFor(contentType)}`;
        const stored = await deps.store.put(storageKey, body, { maxBytes: deps.maxAssetBytes, contentType });
        return { ...stored, contentType, storageKey };
      }

      async function openOutput(output: FinishedJob['outputs'][number], position: number): Promise<Readable> {
        if (output.stagedAssetKey) {
          const staged = await deps.store.open(output.stagedAssetKey);
          if (!staged) throw ApplicationFailure.nonRetryable('A staged output is missing', 'StagedOutputMissing');
          return staged.body;
        }
        const ref = { jobId: input.job.jobId, handles: input.job.handles, request: { kind: input.kind, model: input.upstreamModel, ...input.request } };
        const providerOutput: ProviderOutput = { url: output.url, contentType: output.contentType };
        let request: OutputRequest | undefined;
        if (provider.openOutput) {
          let opened;
          try {
            opened = await provider.openOutput(access, ref, providerOutput);
          } catch (error) {
            // A ProviderError is no failure Temporal knows as final: a refused or expired output would be
            // retried until the deadline. Only the transient ones are worth retrying.
            if (error instanceof ProviderError && !error.retryable) throw outputFailure('output_unavailable', error.message);
            throw error;
          }
          if (opened && 'request' in opened) request = opened.request;
          else if (opened) return opened.body;
        }
        const url = request?.url ?? output.url;
        if (!url) throw ApplicationFailure.nonRetryable('The provider returned an output without a URL', 'OutputWithoutUrl');
        const inline = request ? undefined : decodeDataUri(url, maxBytes);
        if (inline) return Readable.from([inline]);
        const response = await client.request(url, {
          // Never past the attempt's own timeout: the workflow's short first try must stop downloading
          // before the queued persistAssets that follows it starts writing the same asset.
          timeoutMs: Math.min(timeoutMs, request?.timeoutMs ?? timeoutMs, Context.current().info.startToCloseTimeoutMs || timeoutMs),
          maxRedirects: MAX_REDIRECTS,
          // An adapter's request on its channel's origin (the operator's choice) skips the guard on that first
          // hop; one elsewhere (a fresh pre-signed link the provider gave) is checked like any output URL.
          ...(request ? { headers: request.headers, trustFirstHop: sameOrigin(request.url, access.baseUrl) } : { headers: { accept: '*/*' } }),
        });
        if (response.status < 200 || response.status > 299) {
          response.body.resume();
          // An expired, missing or refused output will not come back (a dead signed URL may answer any 4xx):
          // retrying would only delay the refund. Timeouts and throttling (408, 429) may pass.
          const final = response.status < 500 && response.status !== 408 && response.status !== 429;
          const message = `Downloading output ${position} failed with HTTP ${response.status}`;
          if (final) throw outputFailure('output_unavailable', message);
          throw new Error(message);
        }
        const declared = Number(response.headers['content-length']);
        if (Number.isFinite(declared) && declared > maxBytes) {
          response.body.destroy();
          throw new AssetTooLargeError(`Output ${position} is ${declared} bytes, more than the ${maxBytes} allowed`);
        }
        return response.body;
      }
    },
  };

  /** The failure the asset step ends with: final for the guard and the cap, transient (a few times) otherwise. */
  function classify(error: unknown, position: number): unknown {
    if (error instanceof ApplicationFailure) return error;
    if (error instanceof OutboundRefusedError) return outputFailure('output_refused', `Output ${position} was not downloaded: ${error.message}`);
    if (error instanceof AssetTooLargeError) return outputFailure('output_too_large', `Output ${position} is too large: ${error.message}`);
    const message = error instanceof OutboundTimeoutError
      ? `Downloading output ${position} took longer than ${timeoutMs} ms`
      : `Downloading output ${position} failed: ${error instanceof Error ? error.message : String(error)}`;
    if (Context.current().info.attempt >= MAX_DOWNLOAD_ATTEMPTS) return outputFailure('output_unavailable', message);
    return new Error(message);
  }
}

/**
 * An output we will not store. The details carry the classified failure, as the provider activities do,
 * so the task ends with an `upstream_error` naming the cause (and a full refund) rather than a gateway error.
 */
function outputFailure(code: 'output_unavailable' | 'output_refused' | 'output_too_large', message: string): ApplicationFailure {
  const types = { output_unavailable: 'OutputUnavailable', output_refused: 'OutputRefused', output_too_large: 'OutputTooLarge' };
  return ApplicationFailure.create({
    type: types[code],
    message,
    nonRetryable: true,
    details: [{ code, message, retryable: false } satisfies AttemptFailure],
  });
}

/** True when both URLs parse and share scheme, host and port. */
function sameOrigin(url: string, base: string): boolean {
  try {
    return new URL(url).origin === new URL(base).origin;
  } catch {
    return false;
  }
}
