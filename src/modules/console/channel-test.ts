import type { EntityManager } from '@mikro-orm/postgresql';
import { Channel, Model } from '../../db/entities';
import { AppError, errors } from '../../http/errors';
import { ProviderError, type MediaKind } from '../../providers/types';
import type { ProviderRegistry } from '../../providers/registry';
import { loadChannelAccess } from '../../routing/channel-access';
import type { SecretBox } from '../../security/secrets';

/** What the console shows after a channel test. */
export interface ChannelTestResult {
  ok: boolean;
  model: string;
  kind: string;
  latency_ms: number;
  job_id: string | null;
  status: string | null;
  error: { code: string; message: string } | null;
}

/**
 * One real call through the channel's adapter, as a task's first step makes it: submit a small job for
 * one of its media models, read its status once, and cancel it where the protocol allows (so a test
 * costs as little as the provider lets it). Provider failures are the answer, not an error: the
 * operator sees the adapter's classified code. Chat-only channels can't be tested this way yet.
 */
export async function testChannel(
  deps: { em: EntityManager; box: SecretBox; providers: ProviderRegistry },
  channelId: string,
  requestedModel: string | undefined,
): Promise<ChannelTestResult> {
  const channel = await deps.em.findOne(Channel, { id: channelId });
  if (!channel) throw errors.notFound('channel_not_found', `No channel ${channelId}`);
  const modelId = requestedModel ?? Object.keys(channel.models)[0];
  if (!modelId || !(modelId in channel.models)) {
    throw errors.invalid(`Invalid request body: model: the channel does not serve ${requestedModel}`, [{ path: 'model', message: 'not served by this channel' }]);
  }
  const model = await deps.em.findOne(Model, { id: modelId });
  const provider = deps.providers.get(channel.provider);
  const kind = model?.category as MediaKind | undefined;
  if (!kind || !provider.kinds.includes(kind)) {
    throw new AppError(400, 'channel_test_unsupported', `The test makes a media call; ${modelId} is not a media model of this provider`, 'invalid_request_error');
  }
  const { access } = await loadChannelAccess(deps.em, deps.box, channel.id);
  const request = {
    kind, model: channel.models[modelId]!, prompt: 'media-gateway channel test', references: {}, options: {},
    ...(kind === 'image' ? { n: 1 } : { duration: model!.defaultDuration ?? 5 }),
  };
  const started = Date.now();
  const result: ChannelTestResult = { ok: false, model: modelId, kind, latency_ms: 0, job_id: null, status: null, error: null };
  try {
    const job = await provider.submit(access, request, { taskId: `chtest_${started.toString(36)}`, attempt: 1 });
    result.job_id = job.jobId;
    const ref = { jobId: job.jobId, ...(job.handles ? { handles: job.handles } : {}), request };
    const status = await provider.status(access, ref);
    result.status = status.status;
    result.ok = status.status !== 'failed';
    if (status.error) result.error = { code: status.error.code, message: status.error.message };
    if (provider.cancel && (status.status === 'queued' || status.status === 'processing')) await provider.cancel(access, ref).catch(() => undefined);
  } catch (error) {
    if (!(error instanceof ProviderError)) throw error;
    result.error = { code: error.code, message: error.message };
  }
  result.latency_ms = Date.now() - started;
  return result;
}
