/**
 * A PostgreSQL or a Temporal dev server of one test's own, which it may stop and start again on the same
 * port and the same data (PostgreSQL's data directory, Temporal's SQLite file) without disturbing the
 * shared services of `npm test`. Data lives under the run's TEST_DATA_DIR, removed with the run.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { initOrm, migrateUp } from '../../../src/db/orm';
import { startDevTemporal, type DevTemporal } from '../../../src/infra/dev-temporal';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../../src/infra/embedded-postgres';
import { freePort } from '../../../src/infra/ports';
import { findOrInstallTemporalCli } from '../../../src/infra/temporal-cli';
import { searchAttributeRegistrations } from '../../../src/temporal/search-attributes';
import { testEnv } from '../../support/harness';

/** A service the test owns: its address stays the same across restarts. */
export interface OwnService {
  /** DATABASE_URL or TEMPORAL_ADDRESS. */
  address: string;
  /** Stops the service (fast shutdown); resolves once it has exited. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data; resolves once it answers. */
  start(): Promise<void>;
  /** Stops it for good and removes its data. */
  dispose(): Promise<void>;
}

function ownDir(what: string): string {
  return path.join(testEnv().dataDir, 'chaos', `${what}-${randomBytes(4).toString('hex')}`);
}

const quiet = () => undefined;

/** An embedded PostgreSQL of the test's own, migrated. */
export async function startOwnPostgres(): Promise<OwnService> {
  const dataDir = ownDir('postgres');
  const port = await freePort();
  let running: EmbeddedPostgres | null = await startEmbeddedPostgres({ dataDir, port, log: quiet });
  const orm = await initOrm({ url: running.url });
  try {
    await migrateUp(orm);
  } finally {
    await orm.close();
  }
  const address = running.url;
  return {
    address,
    async stop() {
      await running?.stop();
      running = null;
    },
    async start() {
      if (running) return;
      running = await startEmbeddedPostgres({ dataDir, port, log: quiet });
    },
    async dispose() {
      await running?.stop();
      running = null;
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A Temporal dev server of the test's own (headless, SQLite file in its own folder). */
export async function startOwnTemporal(): Promise<OwnService> {
  const dataDir = ownDir('temporal');
  const port = await freePort();
  const cliPath = await findOrInstallTemporalCli({ env: process.env, log: quiet });
  const launch = () => startDevTemporal({ cliPath, dataDir, port, headless: true, searchAttributes: searchAttributeRegistrations, log: quiet });
  let running: DevTemporal | null = await launch();
  return {
    address: running.address,
    async stop() {
      await running?.stop();
      running = null;
    },
    async start() {
      if (running) return;
      running = await launch();
    },
    async dispose() {
      await running?.stop();
      running = null;
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
