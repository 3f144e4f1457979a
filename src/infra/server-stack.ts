import path from 'node:path';
import { searchAttributeRegistrations } from '../temporal/search-attributes';
import type { LocalStack } from '../local-stack';
import { startEmbeddedPostgres } from './embedded-postgres';
import { freePort } from './ports';
import { findOrInstallTemporalServer, findOrInstallTemporalSqlTool, pickTemporalServerPorts, setupTemporalSchema, startTemporalServer } from './temporal-server';

/**
 * Embedded PostgreSQL and the Temporal server on it (schema, namespace, search attributes): the
 * production pair of services, as a drop-in for startLocalStack's dev server (`npm run bench -- --stack`).
 */
export async function startServerStack(opts: { dataDir: string; log: (msg: string) => void }): Promise<LocalStack> {
  const [binary, sqlTool] = await Promise.all([findOrInstallTemporalServer({ log: opts.log }), findOrInstallTemporalSqlTool({ log: opts.log })]);
  const port = await freePort();
  // The bench's scaling scenario runs its idle API, 2 more API processes and 2 workers (20 pooled connections each) beside
  // the Temporal server's ~50 on this one PostgreSQL: its default max_connections of 100 was used up.
  const postgres = await startEmbeddedPostgres({ dataDir: path.join(opts.dataDir, 'postgres'), port, log: opts.log, settings: { max_connections: '300' } });
  try {
    const db = { host: '127.0.0.1', port, user: 'postgres', password: 'postgres' };
    await setupTemporalSchema({ sqlTool, db, log: opts.log });
    const temporal = await startTemporalServer({
      binary, dataDir: path.join(opts.dataDir, 'temporal'), db, ports: await pickTemporalServerPorts(), searchAttributes: searchAttributeRegistrations, log: opts.log,
    });
    return {
      databaseUrl: postgres.url,
      temporalAddress: temporal.address,
      temporalUiUrl: null,
      async stop() {
        await temporal.stop();
        await postgres.stop();
      },
    };
  } catch (error) {
    await postgres.stop();
    throw error;
  }
}
