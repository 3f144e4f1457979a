/**
 * Wire shapes of the gateway's answers, as zod schemas, for the OpenAPI document only: the presenters
 * (tasks.presenter.ts, admin.presenter.ts, the routes' inline bodies) build the real objects, and a
 * field added there belongs here too.
 */
import { z } from 'zod';

const unixSeconds = z.number().int().describe('Unix time in seconds');
const isoTime = z.string().describe('ISO 8601 time');
const credits = z.number().int().describe('Whole credits');
const metadata = z.record(z.string(), z.unknown());

/** The error format of every error response. */
export const ErrorBody = z.object({
  error: z.object({
    message: z.string().describe('Safe to show to a person'),
    type: z.enum(['invalid_request_error', 'authentication_error', 'permission_error', 'gateway_error', 'upstream_error']),
    code: z.string().describe('Stable machine-readable code, e.g. insufficient_credits'),
    param: z.string().optional().describe('The first bad field, for validation errors'),
    details: z.unknown().optional().describe('For validation errors: [{path, message}] for every bad field'),
  }),
});

const TaskStatus = z.enum(['pending', 'queued', 'processing', 'succeeded', 'failed', 'cancelled']);
const TaskObjectName = z.enum(['gateway.image.task', 'gateway.video.task', 'gateway.music.task']);

export const TaskCreated = z.object({
  id: z.string(),
  task_id: z.string(),
  object: TaskObjectName,
  status: TaskStatus,
  model: z.string(),
  created_at: unixSeconds,
});

export const Task = z.object({
  id: z.string(),
  task_id: z.string(),
  object: TaskObjectName,
  model: z.string(),
  status: TaskStatus.describe('succeeded, failed and cancelled are final'),
  progress: z.number().int().min(0).max(100).nullable(),
  created_at: unixSeconds,
  updated_at: unixSeconds,
  completed_at: unixSeconds.nullable(),
  output: z.array(z.object({
    id: z.string(),
    url: z.string().describe('Durable signed link; needs no API key'),
    content_type: z.string(),
    bytes: z.number().int(),
  })),
  error: z.object({ message: z.string(), type: z.string(), code: z.string() }).nullable(),
  credits: z.object({ reserved: credits, charged: credits, refunded: credits }),
});

export const TaskList = z.object({
  object: z.literal('list'),
  data: z.array(Task),
  first_id: z.string().nullable(),
  last_id: z.string().nullable().describe('Pass as `after` to read the next page'),
  has_more: z.boolean(),
});

const Category = z.enum(['chat', 'embedding', 'image', 'video', 'music']);
const Pricing = z.object({
  per_request: credits.optional(),
  per_image: credits.optional(),
  per_second: credits.optional(),
  per_1k_input_tokens: credits.optional(),
  per_1k_output_tokens: credits.optional(),
  per_1k_cached_input_tokens: credits.optional().describe('Cached prompt tokens at this rate instead of the input rate'),
  per_1k_audio_input_tokens: credits.optional().describe('Audio prompt tokens at this rate instead of the input rate'),
  per_1k_reasoning_tokens: credits.optional().describe('Reasoning tokens at this rate instead of the output rate'),
  per_1k_audio_output_tokens: credits.optional().describe('Audio completion tokens at this rate instead of the output rate'),
});

/** A media model's price units (see README "Money"). */
const MediaUnits = {
  default_duration: z.number().int().nullable().describe('Seconds priced and sent upstream when a request gives no duration'),
  durations: z.array(z.number().int()).nullable().describe('The durations (seconds) the model accepts; null: any up to 600'),
  max_outputs: z.number().int().nullable().describe('Most images one request may ask for; null: 10'),
  price_tiers: z.object({
    by: z.enum(['resolution', 'size', 'quality']),
    default: z.string().describe('The tier applied, and sent upstream, when the request names none'),
    prices: z.record(z.string(), Pricing).describe('Each value\'s prices, over the model\'s own'),
  }).nullable(),
};

export const ModelList = z.object({
  object: z.literal('list'),
  data: z.array(z.object({
    id: z.string(),
    object: z.literal('model'),
    created: unixSeconds,
    owned_by: z.string(),
    category: Category,
    pricing: Pricing,
    ...MediaUnits,
    metadata,
  })),
});

export const Usage = z.object({
  object: z.literal('usage'),
  key_id: z.string(),
  from: isoTime,
  to: isoTime,
  total: z.object({ requests: z.number().int(), credits }),
  debt: credits.describe("What the key's account owes (token usage beyond what its wallet held); while above 0 every new request is 402 insufficient_credits, until a top-up pays it"),
  data: z.array(z.object({
    date: z.string().describe('UTC day, YYYY-MM-DD'),
    model: z.string(),
    requests: z.number().int(),
    credits,
    units: z.record(z.string(), z.number()),
  })),
});

/** OpenAI's shapes, passed through from the upstream: only the fields every answer has are listed. */
export const ChatCompletion = z.looseObject({
  id: z.string(),
  object: z.literal('chat.completion'),
  created: unixSeconds,
  model: z.string(),
  choices: z.array(z.looseObject({ index: z.number().int(), message: z.looseObject({ role: z.string() }) })),
  usage: z.looseObject({ prompt_tokens: z.number().int(), completion_tokens: z.number().int(), total_tokens: z.number().int() }).optional(),
});

export const EmbeddingList = z.looseObject({
  object: z.literal('list'),
  data: z.array(z.looseObject({ object: z.literal('embedding'), index: z.number().int(), embedding: z.union([z.array(z.number()), z.string()]) })),
  model: z.string(),
  usage: z.looseObject({ prompt_tokens: z.number().int(), total_tokens: z.number().int() }).optional(),
});

export const Account = z.object({
  id: z.string(),
  object: z.literal('account'),
  name: z.string(),
  balance: credits.describe('Spendable credits; excludes reserved ones'),
  reserved: credits.describe('Credits held by running tasks'),
  debt: credits.describe('Token usage beyond what the wallet held; blocks new holds (402) until a top-up pays it (a top-up pays debt first)'),
  created_at: isoTime,
});

export const Balance = z.object({ balance: credits, debt: credits.describe('What the account still owes after this top-up') });

export const ApiKey = z.object({
  id: z.string(),
  object: z.literal('api_key'),
  account_id: z.string(),
  name: z.string(),
  prefix: z.string().describe('The first characters of the key, to recognise it'),
  group: z.string(),
  models: z.array(z.string()).nullable().describe('Allowed model ids and * wildcards; null: every model'),
  ip_allowlist: z.array(z.string()).nullable(),
  rpm: z.number().int().nullable(),
  tpm: z.number().int().nullable().describe('Chat tokens (prompt + completion) per minute; null: unlimited'),
  budget: credits.nullable(),
  budget_monthly: credits.nullable(),
  budget_spent: credits,
  budget_reserved: credits,
  callback_url: z.string().nullable(),
  metadata,
  expires_at: isoTime.nullable(),
  revoked_at: isoTime.nullable(),
  created_at: isoTime,
});

export const CreatedApiKey = ApiKey.extend({
  key: z.string().describe('The secret key: shown only in this answer'),
  webhook_secret: z.string().describe('whsec_...: signs callbacks; shown only here (and when rotated)'),
});

export const RotatedApiKey = ApiKey.extend({ key: z.string().describe('The new secret key: shown only in this answer') });

export const UpdatedApiKey = ApiKey.extend({
  webhook_secret: z.string().optional().describe('Present when rotate_webhook_secret was true'),
});

export const ApiKeyList = z.object({ object: z.literal('list'), data: z.array(ApiKey) });

export const AdminModel = z.object({
  id: z.string(),
  object: z.literal('model'),
  category: Category,
  pricing: Pricing,
  metadata,
  deadline_seconds: z.number().int().nullable(),
  ...MediaUnits,
  max_output_tokens: z.number().int().nullable().describe('Chat: output tokens a hold assumes when a request sets no max_tokens (null: 4096)'),
  created_at: isoTime,
});

export const AdminModelList = z.object({ object: z.literal('list'), data: z.array(AdminModel) });

export const Channel = z.object({
  id: z.string(),
  object: z.literal('channel'),
  name: z.string(),
  provider: z.enum(['openai', 'ark', 'replicate', 'fal', 'mock', 'gemini', 'kling', 'minimax', 'dashscope', 'runway', 'elevenlabs', 'luma', 'stability']),
  base_url: z.string(),
  api_key_set: z.boolean().describe('The credential itself is never returned'),
  models: z.record(z.string(), z.string()).describe('Public model id -> upstream model name'),
  groups: z.array(z.string()),
  priority: z.number().int().describe('Higher is tried first'),
  weight: z.number().int(),
  enabled: z.boolean(),
  settings: metadata,
  disabled_reason: z.string().nullable(),
  upstream_pricing: Pricing.nullable().describe("What the provider charges us per unit; usage rows record their upstream cost from it"),
  created_at: isoTime,
  updated_at: isoTime,
});

const Circuit = z.object({
  state: z.enum(['closed', 'open', 'half_open']),
  consecutive_failures: z.number().int(),
  open_until: isoTime.nullable(),
  last_error_code: z.string().nullable(),
});

export const ChannelWithCircuit = Channel.extend({ circuit: Circuit });

export const ChannelList = z.object({ object: z.literal('list'), data: z.array(ChannelWithCircuit) });

export const DeletedChannel = z.object({ id: z.string(), object: z.literal('channel'), deleted: z.literal(true) });

export const AdminTask = Task.extend({
  account_id: z.string(),
  api_key_id: z.string(),
  channel_id: z.string().nullable(),
  provider_job_id: z.string().nullable(),
  attempts: z.array(z.object({
    channelId: z.string(),
    jobId: z.string().optional(),
    outcome: z.enum(['submitted', 'failed', 'succeeded', 'cancelled']),
    code: z.string().optional(),
    at: isoTime,
  })),
  request: metadata.describe('The normalized request the workflow runs'),
});

export const UsageRecordList = z.object({
  object: z.literal('list'),
  data: z.array(z.object({
    id: z.string(),
    ref: z.string().describe('The task id or request id this row bills'),
    account_id: z.string(),
    key_id: z.string(),
    model: z.string(),
    category: z.string(),
    channel_id: z.string().nullable(),
    units: z.record(z.string(), z.number()),
    credits,
    debt: credits.describe('The part of credits the wallet could not cover, which became the account debt'),
    status: z.string(),
    latency_ms: z.number().int().nullable(),
    created_at: isoTime,
  })),
});

export const Health = z.object({ status: z.literal('ok') });

const ResealCounts = z.object({ resealed: z.number().int(), current: z.number().int(), unreadable: z.number().int() });
export const ResealResult = z.object({ object: z.literal('secrets.reseal'), api_keys: ResealCounts, channels: ResealCounts });
export const Ready = z.object({ status: z.literal('ready') });
