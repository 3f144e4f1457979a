import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/activity';
import { Readable } from 'node:stream';
import { loadChannelAccess } from '../src/routing/channel-access';
import { extensionFor } from '../src/storage/asset-links';
import { AssetTooLargeError } from '../src/storage/asset-store';
import { ProviderError, type ProviderOutput } from '../src/providers/types';
import type { AttemptFailure, FinishedJob, JobHandle, MediaKind, MediaTaskRequest } from '../workflows/types';
import type { ActivityDeps } from './deps';
import { withHeartbeat } from './heartbeat';

/** Time allowed to download one output. */
const DOWNLOAD_TIMEOUT_MS = 120_000;

export function createAssetActivities(deps: ActivityDeps) {
  return {
    /**
     * Copies every output into our store (streaming, with size and SHA-256) and records it. Idempotent:
     * an output already recorded for (task, position) is not fetched again.
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
        Context.current().heartbeat({ position });
        const existing = await conn.execute<{ id: string }[]>(`select id from assets where task_id = ? and position = ?`, [input.taskId, position]);
        if (existing[0]) {
          assetIds.push(existing[0].id);
          continue;
        }
        const opened = await withHeartbeat(() => openOutput(output), { position });
        const contentType = (output.contentType ?? opened.contentType ?? 'application/octet-stream').split(';')[0]!.trim();
        const assetId = `asset_${input.taskId.replace(/^task_/, '')}_${position}`;
        const storageKey = `tasks/${input.taskId}/${position}.${extensionFor(contentType)}`;
        let stored: { bytes: number; sha256: string };
        try {
          stored = await withHeartbeat(() => deps.store.put(storageKey, opened.body, { maxBytes: deps.maxAssetBytes }), { position });
        } catch (error) {
          if (error instanceof AssetTooLargeError) throw ApplicationFailure.nonRetryable(error.message, 'AssetTooLarge');
          throw error;
        }
        await conn.execute(
          `insert into assets (id, task_id, account_id, position, content_type, bytes, sha256, storage_key)
           values (?, ?, ?, ?, ?, ?, ?, ?) on conflict (task_id, position) do nothing`,
          [assetId, input.taskId, task.account_id, position, contentType, stored.bytes, stored.sha256, storageKey],
        );
        assetIds.push(assetId);
      }
      return { assetIds };

      async function openOutput(output: FinishedJob['outputs'][number]): Promise<{ body: Readable; contentType?: string }> {
        if (output.stagedAssetKey) {
          const staged = await deps.store.open(output.stagedAssetKey);
          if (!staged) throw ApplicationFailure.nonRetryable('A staged output is missing', 'StagedOutputMissing');
          return { body: staged.body };
        }
        const ref = { jobId: input.job.jobId, handles: input.job.handles, request: { kind: input.kind, model: input.upstreamModel, ...input.request } };
        const providerOutput: ProviderOutput = { url: output.url, contentType: output.contentType };
        if (provider.openOutput) {
          try {
            return await provider.openOutput(access, ref, providerOutput);
          } catch (error) {
            // A ProviderError is no failure Temporal knows as final: a refused or expired output would be
            // retried until the deadline. Only the transient ones are worth retrying.
            if (error instanceof ProviderError && !error.retryable) throw outputUnavailable(error.message);
            throw error;
          }
        }
        if (!output.url) throw ApplicationFailure.nonRetryable('The provider returned an output without a URL', 'OutputWithoutUrl');
        const response = await fetch(output.url, { signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) });
        if (!response.ok || !response.body) {
          // An expired, missing or refused output will not come back (a dead signed URL may answer any 4xx):
          // retrying would only delay the refund. Timeouts and throttling (408, 429) may pass.
          const failure = response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429;
          const message = `Downloading output ${position(output)} failed with HTTP ${response.status}`;
          if (failure) throw outputUnavailable(message);
          throw new Error(message);
        }
        return {
          body: Readable.fromWeb(response.body as import('node:stream/web').ReadableStream),
          contentType: response.headers.get('content-type') ?? undefined,
        };
      }

      function position(output: FinishedJob['outputs'][number]): number {
        return input.outputs.indexOf(output);
      }
    },
  };
}

/**
 * An output the provider will not hand over. The details carry the classified failure, as the provider
 * activities do, so the task ends with an `upstream_error` naming the cause rather than a gateway error.
 */
function outputUnavailable(message: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: 'OutputUnavailable',
    message,
    nonRetryable: true,
    details: [{ code: 'output_unavailable', message, retryable: false } satisfies AttemptFailure],
  });
}
