import path from 'node:path';
import { findOrInstallTemporalCli } from './infra/temporal-cli';
import { startDevTemporal } from './infra/dev-temporal';
import { startEmbeddedPostgres } from './infra/embedded-postgres';
import { searchAttributeRegistrations } from './temporal/search-attributes';

/** The services a zero-config run needs, started only where the environment gave no address. */
export interface LocalStack {
  databaseUrl: string;
  temporalAddress: string;
  temporalUiUrl: string | null;
  stop(): Promise<void>;
}

/**
 * The dev server's SQLite in WAL mode, synced at checkpoints: the default rollback journal syncs every
 * write (8 ms each on a plain disk) and caps the whole dev server at a few dozen workflow starts a second.
 * A killed server loses nothing (WAL with synchronous=normal is safe against a process crash); only a
 * power loss can take back the last transactions, acceptable for a development server.
 */
const DEV_TEMPORAL_PRAGMAS = { journal_mode: 'wal', synchronous: 'normal' };

export async function startLocalStack(opts: {
  databaseUrl: string | undefined;
  temporalAddress: string | undefined;
  dataDir: string;
  env: NodeJS.ProcessEnv;
  log: (msg: string) => void;
  headless?: boolean;
  postgresPort?: number;
  temporalPort?: number;
  temporalUiPort?: number;
  /** SQLite pragmas of the Temporal dev server's database (see DevTemporalOptions); DEV_TEMPORAL_PRAGMAS by default. */
  temporalSqlitePragmas?: Record<string, string>;
}): Promise<LocalStack> {
  const stops: (() => Promise<void>)[] = [];
  const dataDir = path.resolve(opts.dataDir);
  try {
    let databaseUrl = opts.databaseUrl;
    if (!databaseUrl) {
      opts.log('DATABASE_URL is unset: starting embedded PostgreSQL');
      const pg = await startEmbeddedPostgres({ dataDir: path.join(dataDir, 'postgres'), port: opts.postgresPort, log: opts.log });
      stops.push(pg.stop);
      databaseUrl = pg.url;
    }
    let temporalAddress = opts.temporalAddress;
    let temporalUiUrl: string | null = null;
    if (!temporalAddress) {
      opts.log('TEMPORAL_ADDRESS is unset: starting the Temporal dev server');
      const cliPath = await findOrInstallTemporalCli({ env: opts.env, log: opts.log });
      const temporal = await startDevTemporal({
        cliPath, dataDir: path.join(dataDir, 'temporal'), searchAttributes: searchAttributeRegistrations, log: opts.log,
        headless: opts.headless, port: opts.temporalPort, uiPort: opts.temporalUiPort, sqlitePragmas: opts.temporalSqlitePragmas ?? DEV_TEMPORAL_PRAGMAS,
      });
      stops.push(temporal.stop);
      temporalAddress = temporal.address;
      temporalUiUrl = temporal.uiUrl;
    }
    return {
      databaseUrl,
      temporalAddress,
      temporalUiUrl,
      async stop() {
        for (const stop of stops.reverse()) await stop().catch(() => undefined);
      },
    };
  } catch (error) {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    throw error;
  }
}
