/**
 * The route table the OpenAPI document is built from: every route the app serves, with the schemas its
 * handler validates with. test/unit/openapi.test.ts fails when a router gains a route that is not here.
 */
import { z } from 'zod';
import { ChatCompletionBody, EmbeddingsBody } from '../chat/chat.schemas';
import {
  AdminUsageQuery, CreateAccountBody, CreateChannelBody, CreateKeyBody, CreateModelBody, KeyListQuery, TopUpBody, UpdateChannelBody, UpdateKeyBody,
} from '../admin/admin.schemas';
import { CreateImageBody, CreateMusicBody, CreateVideoBody, GetTaskQuery, ListTasksQuery, TaskIdParam } from '../tasks/tasks.schemas';
import type { ErrorCodes, NamedSchema, OperationSpec } from './openapi';
import * as R from './responses';
import { RepairTasksBody, RepairTasksResult } from '../tasks/task-repair.routes';
import { UsageQuery } from '../usage/usage.schemas';
import { consoleOperations } from '../console/console.operations';


const named = <S extends z.ZodType>(name: string, schema: S): NamedSchema => ({ name, schema });
const res = {
  task: named('Task', R.Task),
  taskCreated: named('TaskCreated', R.TaskCreated),
  account: named('Account', R.Account),
  apiKey: named('ApiKey', R.ApiKey),
  channel: named('Channel', R.Channel),
  model: named('AdminModel', R.AdminModel),
};

const taskParam = { task_id: TaskIdParam };
const mediaErrors: ErrorCodes = {
  402: ['insufficient_credits', 'budget_exceeded'],
  403: ['model_not_allowed'],
  404: ['model_not_found'],
  409: ['idempotency_key_reused'],
};

function mediaTask(path: string, kind: 'image' | 'video' | 'music', body: NamedSchema, summary: string): OperationSpec {
  return {
    method: 'post', path, operationId: `create${kind[0]!.toUpperCase()}${kind.slice(1)}Task`, tag: 'Media tasks', access: 'consumer',
    summary,
    description: `Reserves the model's price from the wallet and starts an asynchronous ${kind} task; poll \`GET /v1/tasks/{task_id}\` `
      + 'or pass `callback_url` for a signed webhook. Unknown fields are passed to the provider as options, except a field that '
      + 'decides the price or the model in any provider\'s spelling (`num_images`, `frames`, `options.duration`...): 400 naming it. '
      + 'The duration, output count and priced tier sent upstream are exactly the ones priced (the model\'s `default_duration` and '
      + '`price_tiers.default` when absent); the task is charged what the provider delivered, never more than the quote.',
    idempotent: true, body,
    response: { status: 200, description: `The task was accepted (object \`gateway.${kind}.task\`)`, json: res.taskCreated },
    errors: mediaErrors,
  };
}

const chatErrors: ErrorCodes = {
  400: ['upstream_invalid_request'],
  402: ['insufficient_credits', 'budget_exceeded'],
  403: ['model_not_allowed'],
  404: ['model_not_found'],
  429: ['upstream_rate_limited'],
  502: ['upstream_unavailable'],
  503: ['no_channel_available'],
};

export const operations: OperationSpec[] = [
  // --- public
  {
    method: 'get', path: '/healthz', operationId: 'health', tag: 'Service', access: 'public', summary: 'Liveness',
    response: { status: 200, description: 'The process is up', json: named('Health', R.Health) },
  },
  {
    method: 'get', path: '/readyz', operationId: 'ready', tag: 'Service', access: 'public', summary: 'Readiness (the database answers)',
    response: { status: 200, description: 'Ready to serve', json: named('Ready', R.Ready) },
  },
  {
    method: 'get', path: '/metrics', operationId: 'metrics', tag: 'Service', access: 'public', summary: 'Prometheus metrics',
    description: 'With `METRICS_TOKEN` set, send it as `Authorization: Bearer <token>`; with `METRICS_PORT` set, this route lives on that '
      + 'port only (a 404 on the API port).',
    response: { status: 200, description: 'The Prometheus text exposition format', other: { 'text/plain': { type: 'string' } } },
  },
  {
    method: 'get', path: '/openapi.json', operationId: 'openapi', tag: 'Service', access: 'public', summary: 'This OpenAPI 3.1 document',
    response: { status: 200, description: 'The document', other: { 'application/json': { type: 'object' } } },
  },
  {
    method: 'get', path: '/docs', operationId: 'docs', tag: 'Service', access: 'public', summary: 'This documentation as a web page (works offline)',
    response: { status: 200, description: 'A self-contained HTML page', other: { 'text/html': { type: 'string' } } },
  },
  {
    method: 'get', path: '/assets/{asset_id}', operationId: 'getAsset', tag: 'Assets', access: 'public', summary: 'Download a generated file',
    description: 'The durable link of a task output, as found in `output[].url`. Needs no API key: the signature is the credential. '
      + 'Image, video and audio files whose bytes prove an allowlisted type of the task\'s kind are served inline as that type; anything '
      + 'else (SVG, HTML, unrecognised bytes) as an `application/octet-stream` attachment. Every answer carries '
      + '`X-Content-Type-Options: nosniff` and `Content-Security-Policy: default-src \'none\'; sandbox`. One `Range: bytes=...` range '
      + 'answers 206 with `Content-Range` (a range outside the file 416); `ETag` is the SHA-256 of the content, so `If-None-Match` '
      + 'answers 304; the file never changes (`Cache-Control: private, max-age=31536000, immutable`).',
    query: z.object({ sig: z.string() }),
    paramDocs: { sig: 'The link signature, as given in the task output' },
    response: { status: 200, description: 'The file (206 for a Range, 304 when If-None-Match names its ETag)', other: { 'application/octet-stream': { type: 'string', contentMediaType: 'application/octet-stream' } } },
    errors: { 404: ['asset_not_found'], 416: ['range_not_satisfiable'] },
  },

  // --- consumer
  {
    method: 'get', path: '/v1/models', operationId: 'listModels', tag: 'Models', access: 'consumer',
    summary: 'List the models this key may use', description: 'OpenAI list shape, with `category`, `pricing` (credits) and `metadata`.',
    response: { status: 200, description: 'The models', json: named('ModelList', R.ModelList) },
  },
  {
    method: 'post', path: '/v1/chat/completions', operationId: 'createChatCompletion', tag: 'Chat', access: 'consumer',
    summary: 'Chat completion (OpenAI-compatible)',
    description: 'Routed to a chat channel. With `stream: true` the answer is Server-Sent Events ending with `data: [DONE]`. '
      + 'Fields the gateway does not read are passed to the upstream untouched.',
    body: named('ChatCompletionBody', ChatCompletionBody),
    response: {
      status: 200, description: 'The completion, or its stream',
      json: named('ChatCompletion', R.ChatCompletion),
      other: { 'text/event-stream': { type: 'string', description: '`data: <chat.completion.chunk JSON>` events, then `data: [DONE]`' } },
    },
    errors: chatErrors,
  },
  {
    method: 'post', path: '/v1/embeddings', operationId: 'createEmbeddings', tag: 'Chat', access: 'consumer',
    summary: 'Embeddings (OpenAI-compatible)',
    body: named('EmbeddingsBody', EmbeddingsBody),
    response: { status: 200, description: 'The embeddings', json: named('EmbeddingList', R.EmbeddingList) },
    errors: chatErrors,
  },
  mediaTask('/v1/images/generations', 'image', named('CreateImageBody', CreateImageBody), 'Create an image task'),
  mediaTask('/v1/videos', 'video', named('CreateVideoBody', CreateVideoBody), 'Create a video task (text, image or video to video)'),
  mediaTask('/v1/music/generations', 'music', named('CreateMusicBody', CreateMusicBody), 'Create a music task'),
  {
    method: 'get', path: '/v1/tasks', operationId: 'listTasks', tag: 'Media tasks', access: 'consumer',
    summary: "List the account's tasks, newest first",
    query: ListTasksQuery,
    paramDocs: { after: 'Cursor: the `last_id` of the previous page', limit: 'Page size' },
    response: { status: 200, description: 'A page of tasks', json: named('TaskList', R.TaskList) },
    errors: { 400: ['invalid_request'] },
  },
  {
    method: 'get', path: '/v1/tasks/{task_id}', operationId: 'getTask', tag: 'Media tasks', access: 'consumer',
    summary: 'Get a task: status, progress, output links',
    description: 'Answers with a strong `ETag` of the task object; a poll sending it back in `If-None-Match` gets 304 with no body while the task is unchanged.',
    pathParams: taskParam, query: GetTaskQuery, conditional: true,
    paramDocs: { wait: 'Long poll: seconds (0-60) to wait for a status change before answering' },
    response: { status: 200, description: 'The task', json: res.task },
    errors: { 400: ['invalid_request'], 404: ['task_not_found'] },
  },
  {
    method: 'post', path: '/v1/tasks/{task_id}/cancel', operationId: 'cancelTask', tag: 'Media tasks', access: 'consumer',
    summary: 'Cancel a task', description: 'Cancels the provider job where possible and refunds the reservation. A finished task is returned as it is.',
    pathParams: taskParam,
    response: { status: 200, description: 'The task after the cancellation', json: res.task },
    errors: { 404: ['task_not_found'] },
  },
  {
    method: 'post', path: '/v1/provider-callbacks/{task_id}/{attempt}/{channel_id}/{token}', operationId: 'providerCallback', tag: 'Media tasks',
    access: 'public', summary: 'Where providers call back about a job (not for consumers)',
    description: 'The gateway gives this URL to providers that can call back (Replicate `webhook`, fal `fal_webhook`...) when a channel '
      + 'has callbacks on and `PUBLIC_URL` is set. No API key: `token` is the gateway\'s HMAC of the task, attempt and channel, checked '
      + 'first (404 when wrong); then the provider\'s own signature where it has one (Replicate: Standard Webhooks headers with the '
      + 'channel\'s `webhookSecret`, 5 minutes of clock skew at most; 400 when it fails). A valid callback makes the task read the job\'s '
      + 'state from the provider once; the body itself decides nothing, so a replayed or late callback changes nothing. One about a '
      + 'finished task, an earlier attempt or another job answers 200 with `action: "ignored"`.',
    pathParams: { task_id: z.string(), attempt: z.string(), channel_id: z.string(), token: z.string() },
    response: { status: 200, description: 'Received: `{received: true, action: "read_scheduled" | "ignored"}`, or the provider handshake\'s reply',
      json: named('ProviderCallbackReceived', z.object({ received: z.literal(true), action: z.enum(['read_scheduled', 'ignored']) })) },
    errors: { 400: ['invalid_callback', 'invalid_json'], 404: ['not_found'] },
  },
  {
    method: 'get', path: '/v1/usage', operationId: 'getUsage', tag: 'Usage', access: 'consumer',
    summary: "This key's usage by model and UTC day",
    query: UsageQuery,
    paramDocs: { from: 'Start (inclusive); default: the start of the current month', to: 'End (exclusive); default: now' },
    response: { status: 200, description: 'Totals and daily buckets', json: named('Usage', R.Usage) },
    errors: { 400: ['invalid_request'] },
  },

  // --- admin
  {
    method: 'post', path: '/admin/accounts', operationId: 'adminCreateAccount', tag: 'Admin: accounts', access: 'admin', summary: 'Create an account',
    body: named('CreateAccountBody', CreateAccountBody),
    response: { status: 201, description: 'The account', json: res.account },
  },
  {
    method: 'get', path: '/admin/accounts/{id}', operationId: 'adminGetAccount', tag: 'Admin: accounts', access: 'admin', summary: 'Get an account and its balance',
    response: { status: 200, description: 'The account', json: res.account },
    errors: { 404: ['account_not_found'] },
  },
  {
    method: 'post', path: '/admin/accounts/{id}/credits', operationId: 'adminTopUp', tag: 'Admin: accounts', access: 'admin',
    summary: 'Add credits (negative for a correction)', idempotent: true,
    body: named('TopUpBody', TopUpBody),
    response: { status: 200, description: 'The new balance', json: named('Balance', R.Balance) },
    errors: { 404: ['account_not_found'], 409: ['insufficient_credits'] },
  },
  {
    method: 'post', path: '/admin/keys', operationId: 'adminCreateKey', tag: 'Admin: keys', access: 'admin', summary: 'Create a consumer key',
    description: 'The answer holds `key` and `webhook_secret`: they are never shown again.',
    body: named('CreateKeyBody', CreateKeyBody),
    response: { status: 201, description: 'The key, with its secrets', json: named('CreatedApiKey', R.CreatedApiKey) },
    errors: { 404: ['account_not_found'] },
  },
  {
    method: 'get', path: '/admin/keys', operationId: 'adminListKeys', tag: 'Admin: keys', access: 'admin', summary: 'List keys',
    query: KeyListQuery,
    response: { status: 200, description: 'The keys (without secrets)', json: named('ApiKeyList', R.ApiKeyList) },
    errors: { 400: ['invalid_request'] },
  },
  {
    method: 'get', path: '/admin/keys/{id}', operationId: 'adminGetKey', tag: 'Admin: keys', access: 'admin', summary: 'Get a key',
    response: { status: 200, description: 'The key', json: res.apiKey },
    errors: { 404: ['key_not_found'] },
  },
  {
    method: 'patch', path: '/admin/keys/{id}', operationId: 'adminUpdateKey', tag: 'Admin: keys', access: 'admin', summary: "Change a key's limits",
    body: named('UpdateKeyBody', UpdateKeyBody),
    response: { status: 200, description: 'The key', json: named('UpdatedApiKey', R.UpdatedApiKey) },
    errors: { 404: ['key_not_found'] },
  },
  {
    method: 'delete', path: '/admin/keys/{id}', operationId: 'adminRevokeKey', tag: 'Admin: keys', access: 'admin', summary: 'Revoke a key',
    response: { status: 200, description: 'The revoked key', json: res.apiKey },
    errors: { 404: ['key_not_found'] },
  },
  {
    method: 'post', path: '/admin/keys/{id}/rotate', operationId: 'adminRotateKey', tag: 'Admin: keys', access: 'admin',
    summary: 'Give a key a new secret', description: 'The old secret stops working; settings, budgets and the webhook secret stay.',
    response: { status: 200, description: 'The key with its new secret', json: named('RotatedApiKey', R.RotatedApiKey) },
    errors: { 404: ['key_not_found'] },
  },
  {
    method: 'post', path: '/admin/secrets/reseal', operationId: 'adminResealSecrets', tag: 'Admin: secrets', access: 'admin',
    summary: 'Re-encrypt every sealed secret with the current GATEWAY_SECRET',
    description: 'The last step of a secret rotation: after it, the secrets in GATEWAY_SECRET_PREVIOUS are no longer needed to open '
      + 'anything (links signed with them stay valid only while they are listed). Counts per table what was re-sealed, already '
      + 'current, or unreadable with every configured secret. Safe to run again.',
    response: { status: 200, description: 'What was re-sealed', json: named('ResealResult', R.ResealResult) },
  },
  {
    method: 'post', path: '/admin/models', operationId: 'adminCreateModel', tag: 'Admin: models', access: 'admin', summary: 'Publish a model',
    description: 'A `per_second` video or music model needs `default_duration`; `durations`, `max_outputs` and `price_tiers` '
      + '(`{by: resolution | size | quality, default, prices: {value: pricing}}`) say what its upstream accepts and how its price varies.',
    body: named('CreateModelBody', CreateModelBody),
    response: { status: 201, description: 'The model', json: res.model },
    errors: { 409: ['model_exists'] },
  },
  {
    method: 'get', path: '/admin/models', operationId: 'adminListModels', tag: 'Admin: models', access: 'admin', summary: 'List every model',
    response: { status: 200, description: 'The models', json: named('AdminModelList', R.AdminModelList) },
  },
  {
    method: 'post', path: '/admin/channels', operationId: 'adminCreateChannel', tag: 'Admin: channels', access: 'admin', summary: 'Add an upstream channel',
    description: '`models` is a list of public model ids, or a map public id -> upstream model name. `base_url` and `api_key` are required unless `provider` is `mock`.',
    body: named('CreateChannelBody', CreateChannelBody),
    response: { status: 201, description: 'The channel (without its credential)', json: res.channel },
  },
  {
    method: 'get', path: '/admin/channels', operationId: 'adminListChannels', tag: 'Admin: channels', access: 'admin', summary: 'List channels with their circuit state',
    response: { status: 200, description: 'The channels', json: named('ChannelList', R.ChannelList) },
  },
  {
    method: 'get', path: '/admin/channels/{id}', operationId: 'adminGetChannel', tag: 'Admin: channels', access: 'admin', summary: 'Get a channel',
    response: { status: 200, description: 'The channel and its circuit', json: named('ChannelWithCircuit', R.ChannelWithCircuit) },
    errors: { 404: ['channel_not_found'] },
  },
  {
    method: 'patch', path: '/admin/channels/{id}', operationId: 'adminUpdateChannel', tag: 'Admin: channels', access: 'admin', summary: 'Change a channel',
    body: named('UpdateChannelBody', UpdateChannelBody),
    response: { status: 200, description: 'The channel', json: res.channel },
    errors: { 404: ['channel_not_found'] },
  },
  {
    method: 'delete', path: '/admin/channels/{id}', operationId: 'adminDeleteChannel', tag: 'Admin: channels', access: 'admin',
    summary: 'Remove a channel', description: 'Disables it for good; running tasks can still poll and cancel through it.',
    response: { status: 200, description: 'Deleted', json: named('DeletedChannel', R.DeletedChannel) },
    errors: { 404: ['channel_not_found'] },
  },
  {
    method: 'get', path: '/admin/tasks/{id}', operationId: 'adminGetTask', tag: 'Admin: tasks and usage', access: 'admin',
    summary: "Any account's task, with its channel attempts",
    response: { status: 200, description: 'The task', json: named('AdminTask', R.AdminTask) },
    errors: { 404: ['task_not_found'] },
  },
  {
    method: 'post', path: '/admin/tasks/repair', operationId: 'adminRepairTasks', tag: 'Admin: tasks and usage', access: 'admin',
    summary: 'Refund and fail tasks whose workflow ended without finishing them (terminated by hand, timed out)',
    body: named('RepairTasksBody', RepairTasksBody),
    response: { status: 200, description: 'The tasks repaired (or that would be, with dry_run)', json: named('RepairTasksResult', RepairTasksResult) },
  },
  {
    method: 'get', path: '/admin/usage', operationId: 'adminListUsage', tag: 'Admin: tasks and usage', access: 'admin', summary: 'Usage rows, newest first',
    query: AdminUsageQuery,
    response: { status: 200, description: 'The rows', json: named('UsageRecordList', R.UsageRecordList) },
    errors: { 400: ['invalid_request'] },
  },
  // --- the web console
  ...consoleOperations,
];
