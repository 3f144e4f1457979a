import fs from 'node:fs/promises';
import path from 'node:path';
import { findOrInstallGoBinary } from '../../src/infra/go-binaries';
import { isPortOpen } from '../../src/infra/ports';
import { startServiceProcess } from '../../src/infra/service-process';
import { TEMPORAL_UI_VERSION } from './topology';

/**
 * The Temporal Web UI pointed at our Temporal server: the UI server the CLI embeds in `start-dev`
 * (github.com/temporalio/ui-server), built on its own because start-dev's UI only shows start-dev's server.
 */
export interface TemporalUi {
  url: string;
  stop(): Promise<void>;
}

export async function startTemporalUi(opts: { dataDir: string; port: number; temporalAddress: string; log: (msg: string) => void }): Promise<TemporalUi> {
  const binary = await findOrInstallGoBinary({
    title: 'the Temporal UI server', cacheName: `temporal-ui-server-${TEMPORAL_UI_VERSION}`, envVar: 'TEMPORAL_UI_SERVER_BIN',
    goPackage: `github.com/temporalio/ui-server/v2/cmd/server@v${TEMPORAL_UI_VERSION}`, probeArgs: ['--version'],
  }, { log: opts.log });
  const dataDir = path.resolve(opts.dataDir);
  await fs.mkdir(path.join(dataDir, 'config'), { recursive: true });
  const config = {
    temporalGrpcAddress: opts.temporalAddress, host: '127.0.0.1', port: opts.port, enableUi: true,
    defaultNamespace: 'default', refreshInterval: '1m', cors: { cookieInsecure: true, allowOrigins: [`http://127.0.0.1:${opts.port}`] },
  };
  await fs.writeFile(path.join(dataDir, 'config', 'stack.yaml'), JSON.stringify(config, null, 2));
  if (await isPortOpen('127.0.0.1', opts.port)) throw new Error(`Port ${opts.port} (Temporal UI) is already in use; set STACK_UI_PORT.`);
  const server = await startServiceProcess({
    title: 'The Temporal UI server', command: binary, args: ['--root', dataDir, '--config', 'config', '--env', 'stack', 'start'],
    logPath: path.join(dataDir, 'temporal-ui.log'), ready: () => isPortOpen('127.0.0.1', opts.port, 500), ownProcessGroup: true,
  });
  const url = `http://127.0.0.1:${opts.port}`;
  opts.log(`Temporal UI at ${url}`);
  return { url, stop: server.stop };
}
