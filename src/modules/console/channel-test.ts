import type { EntityManager } from '@mikro-orm/postgresql';
import { Channel, Model } from '../../db/entities';
import { AppError, errors } from '../../http/errors';
import { ProviderError, type MediaKind } from '../../providers/types';
import type { ProviderRegistry } from '../../providers/registry';
import { loadChannelAccess } from '../../routing/channel-access';
import { createUpstreamClient } from '../chat/upstream';
import type { ChannelAccess } from '../../providers/types';
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
 * One real call through the channel's adapter, as a request would make it. A media model: submit a small
 * job, read its status once, and cancel it where the protocol allows (so a test costs as little as the
 * provider lets it). A chat or embedding model: one completion of at most one token, or one embedding, over
 * the chat routes' upstream client. Provider failures are the answer, not an error: the operator sees the
 * classified code.
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
  const { access } = await loadChannelAccess(deps.em, deps.box, channel.id);
  if (model?.category === 'chat' || model?.category === 'embedding') {
    return testChatChannel(access, modelId, channel.models[modelId]!, model.category);
  }
  const provider = deps.providers.get(channel.provider);
  const kind = model?.category as MediaKind | undefined;
  if (!kind || !provider.kinds.includes(kind)) {
    throw new AppError(400, 'channel_test_unsupported', `${modelId} is not a model this channel's provider can serve`, 'invalid_request_error');
  }
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

async function testChatChannel(access: ChannelAccess, modelId: string, upstream: string, kind: 'chat' | 'embedding'): Promise<ChannelTestResult> {
  const client = createUpstreamClient();
  const started = Date.now();
  const result: ChannelTestResult = { ok: false, model: modelId, kind, latency_ms: 0, job_id: null, status: null, error: null };
  try {
    const body = kind === 'chat'
      ? { model: upstream, messages: [{ role: 'user', content: 'ping' }], max_tokens: 1 }
      : { model: upstream, input: 'ping' };
    const answer = await client.post({ channel: access, path: kind === 'chat' ? 'chat/completions' : 'embeddings', body, clientSignal: new AbortController().signal });
    await answer.text();
    result.ok = true;
    result.status = String(answer.status);
  } catch (error) {
    if (!(error instanceof ProviderError)) throw error;
    result.error = { code: error.code, message: error.message };
  } finally {
    client.close();
  }
  result.latency_ms = Date.now() - started;
  return result;
}
