import { createHash } from 'node:crypto';
import type { EntityManager, Knex } from '@mikro-orm/postgresql';
import type { Client } from '@temporalio/client';
import { Asset, Model, Task } from '../../db/entities';
import { quoteMedia, type QuoteProblem } from '../../billing/media-quote';
import { MEDIA_PRICED_KEYS } from '../../providers';
import { AppError, errors } from '../../http/errors';
import { assertModelAllowed, type ConsumerAuth } from '../../http/auth';
import { newId, taskIdForIdempotencyKey } from '../../ids';
import type { OutboundGuard } from '../../net/outbound-guard';
import type { SecretBox } from '../../security/secrets';
import { cancelMediaTask } from '../../temporal/media-tasks';
import { reserveTask } from '../../billing/task-reservation';
import type { Logger } from '../../log';
import { inputOfUnstarted, loadUnstarted, pendingStartOf, startReserved, unstartable } from './task-admission';
import type { MediaKind, MediaTaskInput, MediaTaskRequest } from '../../../workflows/types';
import { KNOWN_FIELDS, type CreateMediaTaskBody, type ListTasksQuery } from './tasks.schemas';

const FINAL_STATUSES = ['succeeded', 'failed', 'cancelled'];
import { presentTask, type AssetRow, type TaskObject, type TaskRow } from './tasks.presenter';
import type { TaskWatcher } from './task-watcher';

export interface TasksServiceDeps {
  watcher: TaskWatcher;
  temporal: Client;
  /** For the reservation and the start bookkeeping (outside the request's entity manager). */
  knex: () => Knex;
  log: Logger;
  taskQueue: string;
  outbound: OutboundGuard;
  box: SecretBox;
  publicUrl: string;
  defaultDeadlineSeconds: number;
  maxChannelAttempts: number;
  /** How long an Idempotency-Key is remembered (IDEMPOTENCY_KEY_TTL_HOURS). */
  idempotencyKeyTtlMs: number;
}

/** The answer to a task creation, as API.md shows it. */
export interface CreatedTask {
  id: string;
  task_id: string;
  object: string;
  status: string;
  model: string;
  created_at: number;
}

export function createTasksService(deps: TasksServiceDeps) {
  return {
    /**
     * Validates, prices and admits a media task: the task row and its hold in one transaction (an empty
     * wallet or a spent budget answers 402 and leaves nothing behind), then the start of its workflow.
     * The row keeps what a start needs until the workflow exists, so a retried POST or the sweeper
     * (unstarted-tasks.ts) starts it if this process dies between the commit and the start.
     */
    async create(em: EntityManager, auth: ConsumerAuth, kind: MediaKind, body: CreateMediaTaskBody, idempotencyKey: string | undefined): Promise<CreatedTask> {
      const model = await em.findOne(Model, { id: body.model });
      if (!model) throw errors.notFound('model_not_found', `The model ${body.model} does not exist`);
      assertModelAllowed(auth, model.id);
      if (model.category !== kind) {
        throw errors.invalid(`The model ${model.id} is a ${model.category} model, not a ${kind} model`, [{ path: 'model', message: `is a ${model.category} model` }]);
      }
      const quote = quoteMedia(model, kind, toTaskRequest(body));
      const problems = [...pricedFieldProblems(body), ...(quote.ok ? [] : quote.problems)];
      if (problems.length > 0 || !quote.ok) throw invalidBody(problems);
      const { request, price } = quote;
      await assertPublicUrls(body, auth.defaultCallbackUrl);
      const callbackUrl = body.callback_url ?? auth.defaultCallbackUrl ?? null;
      const requestHash = hashBody({ kind, ...body });
      let taskId = newId('task');
      if (idempotencyKey) {
        const slot = await idempotencySlot(em, auth.accountId, idempotencyKey);
        if (slot.live) return resume(slot.live, requestHash);
        taskId = slot.taskId;
      }

      const input: MediaTaskInput = {
        taskId, accountId: auth.accountId, apiKeyId: auth.apiKeyId, group: auth.group, kind, model: model.id, request, price,
        callbackUrl, idempotencyKey: idempotencyKey ?? null, requestHash,
        deadlineSeconds: model.deadlineSeconds ?? deps.defaultDeadlineSeconds,
        maxChannelAttempts: deps.maxChannelAttempts,
        acceptedAt: new Date().toISOString(),
        admittedByApi: true,
      };
      const reservation = await reserveTask(deps.knex(), input, pendingStartOf(input, deps.taskQueue));
      if (!reservation.admitted) throw reservation.reason === 'budget_exceeded' ? errors.budgetExceeded() : errors.insufficientCredits();
      if (!reservation.created) {
        // A concurrent twin (same Idempotency-Key) created the row first, maybe with another body.
        const stored = await em.fork().findOneOrFail(Task, { id: taskId });
        return resume(stored, requestHash);
      }
      await startOrLeaveToSweeper(input);
      return { id: taskId, task_id: taskId, object: `gateway.${kind}.task`, status: 'pending', model: model.id, created_at: Math.floor(Date.parse(input.acceptedAt) / 1000) };
    },

    /**
     * The caller's account's task, or 404 (another account's task is indistinguishable from none).
     * With `waitSeconds`, a long poll: answers as soon as the status changes, or when the wait is over.
     */
    async get(em: EntityManager, auth: ConsumerAuth, taskId: string, opts: { waitSeconds?: number; signal?: AbortSignal } = {}): Promise<TaskObject> {
      let read = await readTask(em, auth.accountId, taskId);
      if (!read) throw errors.notFound('task_not_found', `No task ${taskId}`);
      if (opts.waitSeconds && !FINAL_STATUSES.includes(read.task.status)) {
        await deps.watcher.waitForChange(taskId, read.task.status, opts.waitSeconds * 1000, opts.signal);
        read = (await readTask(em, auth.accountId, taskId)) ?? read;
      }
      return presentTask(read.task, read.assets, deps);
    },

    /** The account's tasks, newest first, OpenAI-style cursor paging (`after` = the last id seen). */
    async list(em: EntityManager, auth: ConsumerAuth, query: ListTasksQuery) {
      const where: string[] = ['account_id = ?'];
      const params: unknown[] = [auth.accountId];
      if (query.after) {
        const anchor = await em.findOne(Task, { id: query.after, accountId: auth.accountId });
        if (!anchor) throw errors.invalid('Invalid query: after: is not a task of this account', [{ path: 'after', message: 'unknown task id' }]);
        // (created_at, id) is a total order, so pages stay stable while new tasks arrive.
        where.push('(created_at, id) < (?, ?)');
        params.push(anchor.createdAt, anchor.id);
      }
      if (query.status) { where.push('status = ?'); params.push(query.status); }
      if (query.model) { where.push('model = ?'); params.push(query.model); }
      if (query.kind) { where.push('kind = ?'); params.push(query.kind); }
      const rows = await em.getConnection().execute<{ id: string }[]>(
        `select id from tasks where ${where.join(' and ')} order by created_at desc, id desc limit ?`,
        [...params, query.limit + 1],
      );
      const ids = rows.slice(0, query.limit).map((r) => r.id);
      const tasks = ids.length ? await em.find(Task, { id: { $in: ids } }) : [];
      const assets = ids.length ? await em.find(Asset, { taskId: { $in: ids } }) : [];
      const byId = new Map(tasks.map((t) => [t.id, t]));
      const data = ids.map((id) => presentTask(byId.get(id)!, assets.filter((a) => a.taskId === id), deps));
      return { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: rows.length > query.limit };
    },

    /** Cancels a running task (its workflow refunds); a finished task is returned as it is. */
    async cancel(em: EntityManager, auth: ConsumerAuth, taskId: string): Promise<TaskObject> {
      const task = await em.findOne(Task, { id: taskId, accountId: auth.accountId });
      if (!task) throw errors.notFound('task_not_found', `No task ${taskId}`);
      if (!['succeeded', 'failed', 'cancelled'].includes(task.status)) {
        await cancelMediaTask(deps.temporal, taskId);
        await waitForFinal(em, taskId, 5000);
      }
      return this.get(em.fork(), auth, taskId);
    },
  };

  async function assertPublicUrls(body: CreateMediaTaskBody, defaultCallback: string | null): Promise<void> {
    const urls: [string, string | undefined][] = [
      ['callback_url', body.callback_url ?? (defaultCallback ?? undefined)],
      ['image_url', body.image_url],
      ['last_frame_url', body.last_frame_url],
      ['video_url', body.video_url],
      ['audio_url', body.audio_url],
      ...(body.image_urls ?? []).map((u, i): [string, string] => [`image_urls.${i}`, u]),
    ];
    const problems: { path: string; message: string }[] = [];
    for (const [path, value] of urls) {
      if (!value) continue;
      const verdict = await deps.outbound.check(value);
      if (!verdict.ok) problems.push({ path, message: verdict.reason });
    }
    if (problems.length > 0) throw invalidBody(problems);
  }

  /**
   * Where an Idempotency-Key stands: the task it names while that is younger than the TTL (`live`), else
   * the id of the task a new request creates. Each expiry moves the key to its next generation; the
   * generations are read a batch at a time (one query in the usual case).
   */
  async function idempotencySlot(em: EntityManager, accountId: string, key: string): Promise<{ live: TaskIdentity | null; taskId: string }> {
    const BATCH = 8;
    for (let first = 0; ; first += BATCH) {
      const ids = Array.from({ length: BATCH }, (_, i) => taskIdForIdempotencyKey(accountId, key, first + i));
      const found = new Map((await em.find(Task, { id: { $in: ids } })).map((task) => [task.id, task]));
      for (let i = 0; i < BATCH; i++) {
        const task = found.get(ids[i]!);
        if (!task) return { live: null, taskId: ids[i]! };
        if (Date.now() - task.createdAt.getTime() < deps.idempotencyKeyTtlMs) return { live: task, taskId: task.id };
      }
    }
  }

  /**
   * Starts the workflow of a task just reserved. The task exists and its credits are held whatever
   * happens here, so a failed start (Temporal away past the client's retries) still answers with the
   * task: the sweeper starts it once Temporal is back, and a retried POST with the key tries at once.
   */
  async function startOrLeaveToSweeper(input: MediaTaskInput, taskQueue = deps.taskQueue): Promise<void> {
    try {
      await startReserved({ temporal: deps.temporal, knex: deps.knex() }, taskQueue, input);
    } catch (error) {
      deps.log.warn({ err: error, taskId: input.taskId }, 'the workflow of a reserved task did not start; the sweeper will start it');
    }
  }

  /**
   * A retried POST of a task that exists: the first answer again (replay), after starting its workflow if
   * the POST that reserved it died before doing so (on the task queue it meant). One that can't start any
   * more (model removed, deadline passed) is the sweeper's to refund.
   */
  async function resume(task: TaskIdentity & { pendingStart?: unknown; status?: string }, requestHash: string): Promise<CreatedTask> {
    const answer = replay(task, requestHash);
    if (task.pendingStart && task.status === 'pending') {
      const unstarted = await loadUnstarted(deps.knex(), task.id);
      if (unstarted && !unstartable(unstarted)) await startOrLeaveToSweeper(inputOfUnstarted(unstarted), unstarted.pending_start.taskQueue);
    }
    return answer;
  }

  /**
   * The first answer again (as Stripe replays a POST): the task as it was created, `pending`, whatever
   * it became since; GET /v1/tasks/{id} tells its current state.
   */
  function replay(task: TaskIdentity, requestHash: string): CreatedTask {
    if (task.requestHash !== requestHash) {
      throw new AppError(409, 'idempotency_key_reused', 'This Idempotency-Key was used with a different request body', 'gateway_error');
    }
    return { id: task.id, task_id: task.id, object: `gateway.${task.kind}.task`, status: 'pending', model: task.model, created_at: Math.floor(task.createdAt.getTime() / 1000) };
  }
}

export type TasksService = ReturnType<typeof createTasksService>;

function invalidBody(problems: QuoteProblem[]): AppError {
  return errors.invalid(`Invalid request body: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`, problems);
}

/**
 * Fields the consumer may not set around the price: an option or unknown field that names a priced key
 * of any protocol (`options.duration`, `num_images`...), and `seconds` that disagrees with `duration`.
 * Checked before anything is reserved or sent.
 */
export function pricedFieldProblems(body: CreateMediaTaskBody): QuoteProblem[] {
  const problems: QuoteProblem[] = [];
  const priced = (name: string) => MEDIA_PRICED_KEYS.has(name) || KNOWN_PRICED_FIELDS.has(name);
  for (const name of Object.keys(body)) {
    if (!KNOWN_FIELDS.has(name) && priced(name)) problems.push({ path: name, message: 'decides the price: not accepted as a provider option' });
  }
  for (const name of Object.keys(body.options ?? {})) {
    if (priced(name)) problems.push({ path: `options.${name}`, message: 'decides the price: set the priced field itself, not an option' });
  }
  if (body.duration !== undefined && body.seconds !== undefined && Number(body.seconds) !== body.duration) {
    problems.push({ path: 'seconds', message: 'must equal duration when both are given' });
  }
  return problems;
}

/** Our own priced field names, which an option must not repeat either (a provider may read them). */
const KNOWN_PRICED_FIELDS = new Set(['model', 'duration', 'seconds', 'n', 'size', 'resolution', 'quality']);

/** What a replay needs of a task. */
type TaskIdentity = { id: string; kind: string; model: string; createdAt: Date; requestHash: string };

/** Our normalized request: known fields by name, every unknown field kept as a provider option. */
export function toTaskRequest(body: CreateMediaTaskBody): MediaTaskRequest {
  const extra: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(body)) if (!KNOWN_FIELDS.has(name)) extra[name] = value;
  const duration = body.duration ?? (body.seconds !== undefined ? Number(body.seconds) : undefined);
  const request: MediaTaskRequest = {
    prompt: body.prompt,
    references: {
      ...(body.image_url ? { imageUrl: body.image_url } : {}),
      ...(body.image_urls ? { imageUrls: body.image_urls } : {}),
      ...(body.last_frame_url ? { lastFrameUrl: body.last_frame_url } : {}),
      ...(body.video_url ? { videoUrl: body.video_url } : {}),
      ...(body.audio_url ? { audioUrl: body.audio_url } : {}),
    },
    options: { ...extra, ...(body.options ?? {}) },
  };
  if (duration !== undefined) request.duration = duration;
  if (body.size !== undefined) request.size = body.size;
  if (body.resolution !== undefined) request.resolution = body.resolution;
  if (body.aspect_ratio !== undefined) request.aspectRatio = body.aspect_ratio;
  if (body.n !== undefined) request.n = body.n;
  if (body.seed !== undefined) request.seed = body.seed;
  if (body.quality !== undefined) request.quality = body.quality;
  return request;
}

function hashBody(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

/** JSON with sorted keys, so the same body hashes the same whatever its key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * A task and its assets in one statement, only the columns the task object shows: polling is the
 * hottest read, and two ORM queries with entity hydration cost it a second round trip and most of its CPU.
 */
async function readTask(em: EntityManager, accountId: string, taskId: string): Promise<{ task: TaskRow; assets: AssetRow[] } | null> {
  const rows = await em.getConnection().execute<Record<string, unknown>[]>(
    `select t.id, t.kind, t.model, t.status, t.progress, t.error, t.credits_reserved, t.credits_charged, t.credits_refunded,
       t.created_at, t.updated_at, t.completed_at,
       coalesce((select json_agg(json_build_object('id', a.id, 'contentType', a.content_type, 'bytes', a.bytes, 'position', a.position))
                 from assets a where a.task_id = t.id), '[]'::json) as assets
     from tasks t where t.id = ? and t.account_id = ?`,
    [taskId, accountId],
  );
  const row = rows[0];
  if (!row) return null;
  const task: TaskRow = {
    id: row.id as string,
    kind: row.kind as string,
    model: row.model as string,
    status: row.status as string,
    progress: row.progress as number | null,
    error: row.error as TaskRow['error'],
    creditsReserved: Number(row.credits_reserved),
    creditsCharged: Number(row.credits_charged),
    creditsRefunded: Number(row.credits_refunded),
    createdAt: new Date(row.created_at as Date | string),
    updatedAt: new Date(row.updated_at as Date | string),
    completedAt: row.completed_at ? new Date(row.completed_at as Date | string) : null,
  };
  return { task, assets: row.assets as AssetRow[] };
}

async function waitForFinal(em: EntityManager, taskId: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const rows = await em.getConnection().execute<{ status: string }[]>(`select status from tasks where id = ?`, [taskId]);
    if (['succeeded', 'failed', 'cancelled'].includes(rows[0]?.status ?? '')) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
