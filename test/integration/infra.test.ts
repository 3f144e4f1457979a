import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { startDevTemporal } from '../../src/infra/dev-temporal';
import { startEmbeddedPostgres } from '../../src/infra/embedded-postgres';
import { freePort } from '../../src/infra/ports';
import { findOrInstallTemporalCli } from '../../src/infra/temporal-cli';
import { Client } from 'pg';

async function query(url: string, sql: string): Promise<unknown[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

/** A pid that certainly belongs to no process any more. */
async function deadPid(): Promise<number> {
  const child = spawn('true');
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid as number;
}

const KEYWORD = 2; // temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD

let root: string;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'gateway-infra-'));
  // As root, PostgreSQL runs as user `postgres`, which must be able to enter this folder (mkdtemp makes it 0700).
  await fs.chmod(root, 0o755);
});

afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

describe('startEmbeddedPostgres', () => {
  it('answers queries and keeps its data across a restart', async () => {
    const port = await freePort();
    const dataDir = path.join(root, 'pg');

    const first = await startEmbeddedPostgres({ dataDir, port, database: 'gateway_test' });
    try {
      expect(first.url).toBe(`postgres://postgres:postgres@127.0.0.1:${port}/gateway_test`);
      expect(await query(first.url, 'select 1 as one')).toEqual([{ one: 1 }]);
      await query(first.url, 'create table kept (id int); insert into kept values (42)');
    } finally {
      await first.stop();
    }

    const second = await startEmbeddedPostgres({ dataDir, port, database: 'gateway_test' });
    try {
      expect(await query(second.url, 'select id from kept')).toEqual([{ id: 42 }]);
    } finally {
      await second.stop();
    }
  });

  it('starts over a postmaster.pid left by a crashed server', async () => {
    const dataDir = path.join(root, 'pg');
    const port = await freePort();
    await fs.writeFile(path.join(dataDir, 'postmaster.pid'), `${await deadPid()}\n${dataDir}\n`);

    const pg = await startEmbeddedPostgres({ dataDir, port, database: 'gateway_test' });
    try {
      expect(await query(pg.url, 'select count(*)::int as n from kept')).toEqual([{ n: 1 }]);
    } finally {
      await pg.stop();
    }
  });

  it('refuses a busy port with a clear message', async () => {
    const blocker = net.createServer();
    const port = await new Promise<number>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as net.AddressInfo).port)));
    try {
      await expect(startEmbeddedPostgres({ dataDir: path.join(root, 'pg'), port })).rejects.toThrow(`Port ${port} is already in use`);
    } finally {
      blocker.close();
    }
  });
});

describe('startDevTemporal', () => {
  let cliPath: string;

  // On a machine without the CLI this runs `go install`: minutes the first time.
  beforeAll(async () => {
    cliPath = await findOrInstallTemporalCli({ log: (msg) => process.stderr.write(`${msg}\n`) });
  }, 20 * 60_000);

  async function customAttributes(address: string): Promise<Record<string, number>> {
    const connection = await Connection.connect({ address });
    try {
      const response = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
      return { ...(response.customAttributes ?? {}) };
    } finally {
      await connection.close();
    }
  }

  it('registers our search attributes, also in a temporal.db from an older run', async () => {
    const dataDir = path.join(root, 'temporal');
    const port = await freePort();

    const older = await startDevTemporal({ cliPath, dataDir, port, headless: true, searchAttributes: { Model: 'Keyword' } });
    try {
      expect(older.uiUrl).toBeNull();
      expect(await customAttributes(older.address)).toMatchObject({ Model: KEYWORD });
    } finally {
      await older.stop();
    }

    // start-dev applies --search-attribute only when it creates the namespace; TaskStatus must still appear.
    const server = await startDevTemporal({
      cliPath,
      dataDir,
      port,
      headless: true,
      searchAttributes: { Model: 'Keyword', TaskStatus: 'Keyword' },
    });
    try {
      expect(server.address).toBe(`127.0.0.1:${port}`);
      expect(await customAttributes(server.address)).toMatchObject({ Model: KEYWORD, TaskStatus: KEYWORD });
    } finally {
      await server.stop();
    }
  });

  it('refuses a port where a Temporal server already listens', async () => {
    const port = await freePort();
    const server = await startDevTemporal({ cliPath, dataDir: path.join(root, 'temporal-a'), port, headless: true, searchAttributes: {} });
    try {
      await expect(
        startDevTemporal({ cliPath, dataDir: path.join(root, 'temporal-b'), port, headless: true, searchAttributes: {} }),
      ).rejects.toThrow(`A Temporal server already listens on 127.0.0.1:${port}`);
    } finally {
      await server.stop();
    }
  });
});
