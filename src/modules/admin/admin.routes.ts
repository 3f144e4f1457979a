import Router from '@koa/router';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Account, ApiKey, Asset, Channel, Model, Task, UsageRecord } from '../../db/entities';
import type { CreditLeases } from '../../billing/credit-lease';
import { topUp, InsufficientCreditsError } from '../../billing/ledger';
import type { RouteCache } from '../../routing/route-cache';
import type { CacheInvalidation } from '../../cache/invalidation';
import { AppError, errors } from '../../http/errors';
import { parseBody, parseQuery } from '../../http/validate';
import { newId } from '../../ids';
import type { SecretBox } from '../../security/secrets';
import { newWebhookSecret } from '../../security/secrets';
import { presentTask } from '../tasks/tasks.presenter';
import { createCircuitBreaker } from '../../routing/circuit-breaker';
import { createAccount } from '../accounts/accounts.service';
import { createApiKey, rotateApiKey } from '../keys/keys.service';
import { HIDDEN_SETTING, isSecretSetting, presentAccount, presentChannel, presentKey, presentModel } from './admin.presenter';
import {
  AdminUsageQuery, KeyListQuery, channelModelMap, CreateAccountBody, CreateChannelBody, CreateKeyBody, CreateModelBody, TopUpBody,
  UpdateChannelBody, UpdateKeyBody,
} from './admin.schemas';

export interface AdminRoutesDeps {
  em: (ctx: { state: unknown }) => EntityManager;
  box: SecretBox;
  publicUrl: string;
  /**
   * Money reads quiesce this process's credit leases first (settled requests written, unused lease credits
   * given back), so they see exact figures; key changes end the key's lease so it lends no more.
   */
  leases: CreditLeases;
  /** Forgotten on every change to models and channels (on every API process: app.ts makes it publish). */
  routes: RouteCache;
  /** Every API process's key cache: told of every change to a key. */
  invalidation: CacheInvalidation;
}

/** The operators' routes of API.md. Mounted behind adminAuth. */
export function adminRoutes(deps: AdminRoutesDeps): Router {
  const router = new Router({ prefix: '/admin' });

  router.post('/accounts', async (ctx) => {
    const body = parseBody(ctx, CreateAccountBody);
    const account = await createAccount(deps.em(ctx), { name: body.name, credits: body.credits });
    ctx.status = 201;
    ctx.body = presentAccount(account);
  });

  router.get('/accounts/:id', async (ctx) => {
    await deps.leases.quiesce({ accountId: ctx.params.id! });
    ctx.body = presentAccount(await findAccount(deps.em(ctx), ctx.params.id!));
  });

  router.post('/accounts/:id/credits', async (ctx) => {
    const body = parseBody(ctx, TopUpBody);
    const em = deps.em(ctx);
    await findAccount(em, ctx.params.id!);
    const ref = ctx.get('idempotency-key') ? `topup_${ctx.params.id}_${ctx.get('idempotency-key')}` : newId('topup');
    try {
      const { balance, debt } = await topUp(em.getKnex(), { accountId: ctx.params.id!, amount: body.amount, ref, reason: body.reason });
      ctx.body = { balance, debt };
    } catch (error) {
      if (error instanceof InsufficientCreditsError) {
        throw new AppError(409, 'insufficient_credits', 'The correction would make the balance negative', 'gateway_error');
      }
      throw error;
    }
  });

  router.post('/keys', async (ctx) => {
    const body = parseBody(ctx, CreateKeyBody);
    const em = deps.em(ctx);
    await findAccount(em, body.account_id);
    const { row, key, webhookSecret } = await createApiKey(em, deps.box, {
      accountId: body.account_id, name: body.name, models: body.models, ipAllowlist: body.ip_allowlist, group: body.group,
      rpm: body.rpm, tpm: body.tpm, budgetTotal: body.budget, budgetMonthly: body.budget_monthly, defaultCallbackUrl: body.callback_url,
      metadata: body.metadata, expiresAt: toDate(body.expires_at),
    });
    ctx.status = 201;
    ctx.body = { ...presentKey(row), key, webhook_secret: webhookSecret };
  });

  router.get('/keys', async (ctx) => {
    await deps.leases.flush();
    const { account_id: accountId } = parseQuery(ctx, KeyListQuery);
    const keys = await deps.em(ctx).find(ApiKey, accountId ? { accountId } : {}, { orderBy: { createdAt: 'asc' }, limit: 1000 });
    ctx.body = { object: 'list', data: keys.map(presentKey) };
  });

  router.post('/keys/:id/rotate', async (ctx) => {
    const rotated = await rotateApiKey(deps.em(ctx), ctx.params.id!);
    if (!rotated) throw errors.notFound('key_not_found', `No key ${ctx.params.id}`);
    await deps.invalidation.publish({ kind: 'key', keyId: rotated.row.id });
    ctx.body = { ...presentKey(rotated.row), key: rotated.key };
  });

  router.get('/keys/:id', async (ctx) => {
    await deps.leases.quiesce({ apiKeyId: ctx.params.id! });
    ctx.body = presentKey(await findKey(deps.em(ctx), ctx.params.id!));
  });

  router.patch('/keys/:id', async (ctx) => {
    const body = parseBody(ctx, UpdateKeyBody);
    const em = deps.em(ctx);
    const key = await findKey(em, ctx.params.id!);
    if (body.name !== undefined) key.name = body.name;
    if (body.models !== undefined) key.models = body.models;
    if (body.ip_allowlist !== undefined) key.ipAllowlist = body.ip_allowlist;
    if (body.group !== undefined) key.group = body.group;
    if (body.rpm !== undefined) key.rpm = body.rpm;
    if (body.tpm !== undefined) key.tpm = body.tpm;
    if (body.budget !== undefined) key.budgetTotal = body.budget;
    if (body.budget_monthly !== undefined) key.budgetMonthly = body.budget_monthly;
    if (body.callback_url !== undefined) key.defaultCallbackUrl = body.callback_url;
    if (body.metadata !== undefined) key.metadata = body.metadata;
    if (body.expires_at !== undefined) key.expiresAt = toDate(body.expires_at);
    let webhookSecret: string | undefined;
    if (body.rotate_webhook_secret) {
      webhookSecret = newWebhookSecret();
      key.webhookSecretEnc = deps.box.seal(webhookSecret);
    }
    await em.flush();
    await deps.invalidation.publish({ kind: 'key', keyId: key.id });
    await deps.leases.quiesce({ apiKeyId: key.id });
    ctx.body = { ...presentKey(key), ...(webhookSecret ? { webhook_secret: webhookSecret } : {}) };
  });

  router.delete('/keys/:id', async (ctx) => {
    const em = deps.em(ctx);
    const key = await findKey(em, ctx.params.id!);
    key.revokedAt ??= new Date();
    await em.flush();
    await deps.invalidation.publish({ kind: 'key', keyId: key.id });
    await deps.leases.quiesce({ apiKeyId: key.id });
    ctx.body = presentKey(key);
  });

  router.post('/models', async (ctx) => {
    const body = parseBody(ctx, CreateModelBody);
    const em = deps.em(ctx);
    if (await em.findOne(Model, { id: body.id })) throw errors.conflict('model_exists', `The model ${body.id} already exists`);
    const model = em.create(Model, {
      id: body.id, category: body.category, pricing: body.pricing, metadata: body.metadata ?? {},
      deadlineSeconds: body.deadline_seconds ?? null, defaultDuration: body.default_duration ?? null,
      durations: body.durations ?? null, maxOutputs: body.max_outputs ?? null, priceTiers: body.price_tiers ?? null, maxOutputTokens: body.max_output_tokens ?? null,
    });
    await em.persistAndFlush(model);
    deps.routes.invalidate();
    ctx.status = 201;
    ctx.body = presentModel(model);
  });

  router.get('/models', async (ctx) => {
    const models = await deps.em(ctx).find(Model, {}, { orderBy: { id: 'asc' } });
    ctx.body = { object: 'list', data: models.map(presentModel) };
  });

  router.post('/channels', async (ctx) => {
    const body = parseBody(ctx, CreateChannelBody);
    if (body.provider !== 'mock' && (!body.base_url || !body.api_key)) {
      throw errors.invalid('Invalid request body: base_url and api_key are required for this provider', [
        ...(body.base_url ? [] : [{ path: 'base_url', message: 'is required' }]),
        ...(body.api_key ? [] : [{ path: 'api_key', message: 'is required' }]),
      ]);
    }
    const em = deps.em(ctx);
    const channel = em.create(Channel, {
      id: newId('ch'), name: body.name, provider: body.provider, baseUrl: body.base_url ?? 'mock://local',
      apiKeyEnc: deps.box.seal(body.api_key ?? 'mock'), models: channelModelMap(body.models), groups: body.groups ?? ['default'],
      priority: body.priority ?? 0, weight: body.weight ?? 1, enabled: body.enabled ?? true, settings: body.settings ?? {},
      disabledReason: null, upstreamPricing: body.upstream_pricing ?? null,
    });
    await em.persistAndFlush(channel);
    deps.routes.invalidate();
    ctx.status = 201;
    ctx.body = presentChannel(channel);
  });

  router.get('/channels', async (ctx) => {
    const em = deps.em(ctx);
    const breaker = createCircuitBreaker(() => em.getKnex());
    const channels = await em.find(Channel, {}, { orderBy: { createdAt: 'asc' } });
    ctx.body = { object: 'list', data: await Promise.all(channels.map(async (c) => ({ ...presentChannel(c), circuit: await breaker.view(c.id) }))) };
  });

  router.get('/channels/:id', async (ctx) => {
    const em = deps.em(ctx);
    const channel = await findChannel(em, ctx.params.id!);
    ctx.body = { ...presentChannel(channel), circuit: await createCircuitBreaker(() => em.getKnex()).view(channel.id) };
  });

  router.patch('/channels/:id', async (ctx) => {
    const body = parseBody(ctx, UpdateChannelBody);
    const em = deps.em(ctx);
    const channel = await findChannel(em, ctx.params.id!);
    if (body.name !== undefined) channel.name = body.name;
    if (body.provider !== undefined) channel.provider = body.provider;
    if (body.base_url !== undefined) channel.baseUrl = body.base_url;
    if (body.api_key !== undefined) channel.apiKeyEnc = deps.box.seal(body.api_key);
    if (body.models !== undefined) channel.models = channelModelMap(body.models);
    if (body.groups !== undefined) channel.groups = body.groups;
    if (body.priority !== undefined) channel.priority = body.priority;
    if (body.weight !== undefined) channel.weight = body.weight;
    if (body.settings !== undefined) {
      // A secret setting sent back as it was shown ("[hidden]") keeps its stored value.
      const previous = channel.settings;
      channel.settings = Object.fromEntries(Object.entries(body.settings).map(([name, value]) =>
        [name, isSecretSetting(name) && value === HIDDEN_SETTING && previous[name] !== undefined ? previous[name] : value]));
    }
    if (body.upstream_pricing !== undefined) channel.upstreamPricing = body.upstream_pricing;
    if (body.enabled !== undefined) {
      channel.enabled = body.enabled;
      if (body.enabled) channel.disabledReason = null;
    }
    await em.flush();
    deps.routes.invalidate();
    ctx.body = presentChannel(channel);
  });

  router.delete('/channels/:id', async (ctx) => {
    const em = deps.em(ctx);
    const channel = await findChannel(em, ctx.params.id!);
    // Running tasks still reference it for polling and cancel: disable rather than lose the credential.
    channel.enabled = false;
    channel.disabledReason = 'deleted by an operator';
    await em.flush();
    deps.routes.invalidate();
    ctx.body = { id: channel.id, object: 'channel', deleted: true };
  });

  router.get('/tasks/:id', async (ctx) => {
    const em = deps.em(ctx);
    const task = await em.findOne(Task, { id: ctx.params.id! });
    if (!task) throw errors.notFound('task_not_found', `No task ${ctx.params.id}`);
    const assets = await em.find(Asset, { taskId: task.id });
    ctx.body = {
      ...presentTask(task, assets, deps),
      account_id: task.accountId, api_key_id: task.apiKeyId, channel_id: task.channelId ?? null,
      provider_job_id: task.providerJobId ?? null, attempts: task.attempts, request: task.request,
    };
  });

  router.get('/usage', async (ctx) => {
    const query = parseQuery(ctx, AdminUsageQuery);
    await deps.leases.flush();
    const where: Record<string, unknown> = {};
    if (query.account_id) where.accountId = query.account_id;
    if (query.key_id) where.apiKeyId = query.key_id;
    if (query.model) where.model = query.model;
    if (query.from || query.to) {
      where.createdAt = { ...(query.from ? { $gte: new Date(query.from) } : {}), ...(query.to ? { $lt: new Date(query.to) } : {}) };
    }
    const rows = await deps.em(ctx).find(UsageRecord, where, { orderBy: { createdAt: 'desc' }, limit: query.limit });
    ctx.body = {
      object: 'list',
      data: rows.map((row) => ({
        id: row.id, ref: row.ref, account_id: row.accountId, key_id: row.apiKeyId, model: row.model, category: row.category,
        channel_id: row.channelId ?? null, units: row.units, credits: row.credits, debt: row.debt, status: row.status,
        latency_ms: row.latencyMs ?? null, created_at: row.createdAt.toISOString(),
      })),
    };
  });

  return router;
}

async function findAccount(em: EntityManager, id: string) {
  const account = await em.findOne(Account, { id });
  if (!account) throw errors.notFound('account_not_found', `No account ${id}`);
  return account;
}

async function findKey(em: EntityManager, id: string) {
  const key = await em.findOne(ApiKey, { id });
  if (!key) throw errors.notFound('key_not_found', `No key ${id}`);
  return key;
}

async function findChannel(em: EntityManager, id: string) {
  const channel = await em.findOne(Channel, { id });
  if (!channel) throw errors.notFound('channel_not_found', `No channel ${id}`);
  return channel;
}

function toDate(value: string | number | null | undefined): Date | null {
  if (value === null || value === undefined) return null;
  return typeof value === 'number' ? new Date(value * 1000) : new Date(value);
}
