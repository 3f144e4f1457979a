import { MikroORM } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { allEntities } from './entities';
import { migrationsList } from './migrations';

export type Orm = MikroORM;

/** Connects to PostgreSQL. Schema changes happen only through migrations (`migrateUp`). */
export async function initOrm(opts: { url: string; poolMax?: number; debug?: boolean }): Promise<Orm> {
  return MikroORM.init({
    clientUrl: opts.url,
    entities: allEntities,
    extensions: [Migrator],
    allowGlobalContext: false,
    debug: opts.debug ?? false,
    pool: { min: 0, max: opts.poolMax ?? 10 },
    migrations: { migrationsList, transactional: true, allOrNothing: true, snapshot: false },
    discovery: { warnWhenNoEntities: false },
  });
}

/** Applies pending migrations; safe to call from several processes (the migrator takes a lock). */
export async function migrateUp(orm: Orm): Promise<void> {
  await orm.getMigrator().up();
}
