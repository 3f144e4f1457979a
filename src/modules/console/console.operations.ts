/**
 * The console's rows of the OpenAPI route table (src/modules/docs/operations.ts includes them), with the
 * wire shapes of its own read routes.
 */
import { z } from 'zod';
import type { OperationSpec } from '../docs/openapi';
import { Task } from '../docs/responses';
import { TaskIdParam } from '../tasks/tasks.schemas';
import { ChannelTestBody, ConsoleTasksQuery, CreateSessionBody, WindowQuery } from './console.schemas';

const credits = z.number().int().describe('Whole credits');
const isoTime = z.string().describe('ISO 8601 time');
const named = <S extends z.ZodType>(name: string, schema: S) => ({ name, schema });

const ConsoleSession = z.object({
  object: z.literal('console.session'),
  token: z.string().describe('Send as `Authorization: Bearer <token>` to /v1 (consumer) or /admin (operator) routes until it expires'),
  role: z.enum(['consumer', 'operator']),
  expires_at: isoTime,
  key_id: z.string().optional(),
  account_id: z.string().optional(),
});

const ConsoleCredits = z.object({
  object: z.literal('console.credits'),
  account: z.object({ id: z.string(), name: z.string(), balance: credits, reserved: credits, debt: credits }),
  key: z.object({
    id: z.string(), name: z.string(), prefix: z.string(), rpm: z.number().int().nullable(), models: z.array(z.string()).nullable(),
    expires_at: isoTime.nullable(), budget: credits.nullable(), budget_spent: credits, budget_reserved: credits,
    budget_left: credits.nullable().describe('Null: no total budget'), budget_monthly: credits.nullable(), month: z.string(),
    month_spent: credits, month_reserved: credits, budget_monthly_left: credits.nullable(),
  }),
});

const ConsoleTask = Task.extend({ kind: z.enum(['image', 'video', 'music']), account_id: z.string() });
const ConsoleTaskList = z.object({ object: z.literal('list'), data: z.array(ConsoleTask), has_more: z.boolean(), last_id: z.string().nullable() });

const TimelineEvent = z.object({
  at: isoTime, event: z.enum(['created', 'attempt', 'progress', 'final']), status: z.string().optional(), outcome: z.string().optional(),
  code: z.string().optional(), channel_id: z.string().optional().describe('Operators only'), progress: z.number().int().optional(),
});
const ConsoleTaskDetail = Task.extend({
  kind: z.enum(['image', 'video', 'music']),
  request: z.object({ prompt: z.string().nullable(), duration: z.number().nullable() }),
  timeline: z.array(TimelineEvent),
  deliveries: z.array(z.object({
    id: z.string(), url: z.string(), event_type: z.string(), attempts: z.number().int(), last_status: z.number().int().nullable(),
    last_error: z.string().nullable(), delivered_at: isoTime.nullable(), created_at: isoTime,
  })),
  account_id: z.string().optional(), api_key_id: z.string().optional(), channel_id: z.string().nullable().optional(),
});

const AccountSummaryList = z.object({
  object: z.literal('list'),
  data: z.array(z.object({ id: z.string(), name: z.string(), balance: credits, reserved: credits, debt: credits, active_keys: z.number().int(), created_at: isoTime })),
});
const LedgerList = z.object({
  object: z.literal('list'),
  data: z.array(z.object({ id: z.string(), kind: z.enum(['topup', 'hold', 'capture', 'release', 'debt']), amount: credits, ref: z.string(), reason: z.string().nullable(), created_at: isoTime })),
});
const ChannelHealthList = z.object({
  object: z.literal('list'),
  window: z.number().int().describe('How many of each channel\'s latest usage rows the figures cover'),
  data: z.array(z.object({
    channel_id: z.string(),
    circuit: z.object({ state: z.enum(['closed', 'open', 'half_open']), consecutive_failures: z.number().int(), open_until: isoTime.nullable(), last_error_code: z.string().nullable() }),
    requests: z.number().int(), failures: z.number().int(), failure_rate: z.number().nullable(), avg_latency_ms: z.number().nullable(),
    p95_latency_ms: z.number().nullable(), last_at: isoTime.nullable(),
  })),
});
const ChannelTestResult = z.object({
  ok: z.boolean(), model: z.string(), kind: z.string(), latency_ms: z.number().int(), job_id: z.string().nullable(), status: z.string().nullable(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
});
const Money = z.object({
  object: z.literal('console.money'), from: isoTime, to: isoTime,
  total: z.object({
    requests: z.number().int(), revenue: credits, costed_revenue: credits, upstream_cost: credits,
    margin: credits.describe('costed_revenue - upstream_cost'), uncosted_requests: z.number().int(),
  }),
  data: z.array(z.object({
    day: z.string(), model: z.string(), channel_id: z.string().nullable(), requests: z.number().int(), revenue: credits,
    costed_revenue: credits.describe('Revenue of the rows that have an upstream cost'),
    upstream_cost: credits.nullable().describe('Null: no row of the group has an upstream cost'),
    margin: credits.nullable().describe('costed_revenue - upstream_cost; null when nothing is costed'),
    uncosted_requests: z.number().int().describe('Rows on channels without upstream pricing'),
  })),
});

const taskParam = { task_id: TaskIdParam };
const filterDocs = { from: 'Created at or after (date or date-time)', to: 'Created before (a plain date includes that day)', after: 'Cursor: `last_id` of the previous page' };

export const consoleOperations: OperationSpec[] = [
  {
    method: 'get', path: '/console', operationId: 'console', tag: 'Console', access: 'public', summary: 'The web console',
    description: 'A single-page app for consumers (API key) and operators (admin token); its CSP allows only its own script.',
    response: { status: 200, description: 'The console page', other: { 'text/html': { type: 'string' } } },
  },
  {
    method: 'get', path: '/console/assets/{name}', operationId: 'consoleAsset', tag: 'Console', access: 'public', summary: 'A script or stylesheet of the console',
    response: { status: 200, description: 'The file (content-hashed name, cached for good)', other: { 'text/javascript': { type: 'string' }, 'text/css': { type: 'string' } } },
  },
  {
    method: 'post', path: '/console/api/session', operationId: 'createConsoleSession', tag: 'Console', access: 'public',
    summary: 'Exchange an API key or the admin token for a short-lived session token',
    description: 'The key passes the same checks as on /v1 (revoked, expired, IP allowlist). The token stands in for the key on /v1 routes '
      + '(or for the admin token on /admin routes) until it expires; an expired one answers 401 `session_expired`.',
    body: named('CreateSessionBody', CreateSessionBody),
    response: { status: 201, description: 'The session', json: named('ConsoleSession', ConsoleSession) },
    errors: { 401: ['invalid_api_key', 'session_expired'], 403: ['ip_not_allowed'] },
  },
  {
    method: 'delete', path: '/console/api/session', operationId: 'deleteConsoleSession', tag: 'Console', access: 'public', summary: 'Sign out (end the bearer session)',
    response: { status: 200, description: 'Ended', json: named('ConsoleSessionEnded', z.object({ object: z.literal('console.session'), deleted: z.literal(true) })) },
    errors: { 401: ['session_expired'] },
  },
  {
    method: 'get', path: '/v1/console/credits', operationId: 'consoleCredits', tag: 'Console', access: 'consumer',
    summary: "The wallet and this key's budgets, with what is left",
    response: { status: 200, description: 'Credits', json: named('ConsoleCredits', ConsoleCredits) },
  },
  {
    method: 'get', path: '/v1/console/tasks', operationId: 'consoleListTasks', tag: 'Console', access: 'consumer',
    summary: "The account's tasks with their outputs, filtered by kind, model, status and date", query: ConsoleTasksQuery.omit({ account_id: true }), paramDocs: filterDocs,
    response: { status: 200, description: 'One page, newest first', json: named('ConsoleTaskList', ConsoleTaskList) },
    errors: { 400: ['invalid_request'] },
  },
  {
    method: 'get', path: '/v1/console/tasks/{task_id}', operationId: 'consoleGetTask', tag: 'Console', access: 'consumer', pathParams: taskParam,
    summary: 'A task with its status timeline, cost, outputs and callback deliveries',
    response: { status: 200, description: 'The task', json: named('ConsoleTaskDetail', ConsoleTaskDetail) },
    errors: { 404: ['task_not_found'] },
  },
  {
    method: 'get', path: '/admin/console/accounts', operationId: 'consoleListAccounts', tag: 'Console', access: 'admin', summary: 'Every account with its wallet',
    response: { status: 200, description: 'The accounts', json: named('ConsoleAccountList', AccountSummaryList) },
  },
  {
    method: 'get', path: '/admin/console/accounts/{id}/ledger', operationId: 'consoleLedger', tag: 'Console', access: 'admin', summary: "An account's ledger, newest first",
    query: WindowQuery.pick({ limit: true }),
    response: { status: 200, description: 'Ledger entries', json: named('ConsoleLedger', LedgerList) },
    errors: { 400: ['invalid_request'] },
  },
  {
    method: 'get', path: '/admin/console/tasks', operationId: 'consoleListAllTasks', tag: 'Console', access: 'admin',
    summary: 'Every account\'s tasks, filtered by account, kind, model, status and date', query: ConsoleTasksQuery, paramDocs: filterDocs,
    response: { status: 200, description: 'One page, newest first', json: named('ConsoleTaskList', ConsoleTaskList) },
    errors: { 400: ['invalid_request'] },
  },
  {
    method: 'get', path: '/admin/console/tasks/{task_id}', operationId: 'consoleGetAnyTask', tag: 'Console', access: 'admin', pathParams: taskParam,
    summary: 'Any task with its timeline (channel attempts included), cost, outputs and callback deliveries',
    response: { status: 200, description: 'The task', json: named('ConsoleTaskDetail', ConsoleTaskDetail) },
    errors: { 404: ['task_not_found'] },
  },
  {
    method: 'get', path: '/admin/console/channels/health', operationId: 'consoleChannelHealth', tag: 'Console', access: 'admin',
    summary: "Each channel's circuit, failure rate and latency over its latest requests and tasks",
    response: { status: 200, description: 'Health per channel', json: named('ConsoleChannelHealth', ChannelHealthList) },
  },
  {
    method: 'post', path: '/admin/console/channels/{id}/test', operationId: 'consoleTestChannel', tag: 'Console', access: 'admin',
    summary: 'Make one real call through the channel\'s adapter',
    description: 'A media model: submits a small job, reads its status once and cancels it where the protocol allows. A chat or embedding '
      + 'model: one completion of at most one token, or one embedding. A provider failure is the answer (`ok: false` with its code), not an error.',
    body: named('ChannelTestBody', ChannelTestBody),
    response: { status: 200, description: 'The outcome', json: named('ChannelTestResult', ChannelTestResult) },
    errors: { 400: ['invalid_request', 'channel_test_unsupported'], 404: ['channel_not_found'] },
  },
  {
    method: 'get', path: '/admin/console/money', operationId: 'consoleMoney', tag: 'Console', access: 'admin',
    summary: 'Revenue, upstream cost and margin by day, model and channel', query: WindowQuery.pick({ from: true, to: true }),
    paramDocs: { from: 'Start (date or date-time; default 30 days ago)', to: 'End (a plain date includes that day; default now)' },
    response: { status: 200, description: 'Sums per day, model and channel', json: named('ConsoleMoney', Money) },
    errors: { 400: ['invalid_request'] },
  },
];
