import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { promisify } from 'node:util';
import { findOrInstallGoBinary, type GoBinaryOptions } from './go-binaries';

/** Later CLI versions carry a `replace` directive in go.mod, which `go install pkg@version` refuses. */
export const TEMPORAL_CLI_VERSION = '1.5.1';
const EXE = process.platform === 'win32' ? '.exe' : '';
const ANSWER_TIMEOUT_MS = 10_000; // no answer this fast usually means no internet: move on to go install
const DOWNLOAD_TIMEOUT_MS = 5 * 60_000;

const execFileAsync = promisify(execFile);

/** Options of findOrInstallTemporalCli (env: source of TEMPORAL_CLI, PATH and GATEWAY_CACHE_DIR). */
export type TemporalCliOptions = GoBinaryOptions;

/**
 * Path of a `temporal` binary: TEMPORAL_CLI, else `temporal` on PATH, else one cached by an earlier
 * run, else the official archive, else `go install` into the cache. Concurrent callers share one install.
 */
export function findOrInstallTemporalCli(opts: TemporalCliOptions = {}): Promise<string> {
  return findOrInstallGoBinary(
    {
      title: 'the Temporal CLI',
      cacheName: 'temporal', // kept as it was, so caches filled by earlier versions of this code stay valid
      envVar: 'TEMPORAL_CLI',
      pathName: 'temporal',
      goPackage: `github.com/temporalio/cli/cmd/temporal@v${TEMPORAL_CLI_VERSION}`,
      probeArgs: ['--version'],
      download: { what: `download ${archiveUrl() ?? `(no archive for ${process.platform}/${process.arch})`}`, run: download },
    },
    opts,
  );
}

function archiveUrl(): string | undefined {
  const platform = ({ linux: 'linux', darwin: 'darwin' } as Partial<Record<NodeJS.Platform, string>>)[process.platform];
  const arch = ({ x64: 'amd64', arm64: 'arm64' } as Partial<Record<string, string>>)[process.arch];
  if (!platform || !arch) return undefined;
  return `https://temporal.download/cli/archive/v${TEMPORAL_CLI_VERSION}?platform=${platform}&arch=${arch}`;
}

async function download(staging: string, log: (msg: string) => void): Promise<string> {
  const url = archiveUrl();
  if (!url) throw new Error('no official archive for this platform');
  log(`Downloading the Temporal CLI from ${url}`);
  const controller = new AbortController();
  let timer = setTimeout(() => controller.abort(new Error(`no answer within ${ANSWER_TIMEOUT_MS / 1000}s`)), ANSWER_TIMEOUT_MS);
  try {
    const res = await fetch(url, { signal: controller.signal });
    if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(new Error('download too slow')), DOWNLOAD_TIMEOUT_MS);
    const archive = path.join(staging, 'temporal.tar.gz');
    await pipeline(Readable.fromWeb(res.body as NodeReadableStream), createWriteStream(archive));
    await execFileAsync('tar', ['-xzf', archive, '-C', staging]);
    return path.join(staging, `temporal${EXE}`);
  } catch (err) {
    // fetch hides the real cause (DNS, refused, timeout) one level down
    const cause = (err as { cause?: unknown }).cause;
    throw new Error(cause instanceof Error ? `${(err as Error).message}: ${cause.message}` : (err as Error).message);
  } finally {
    clearTimeout(timer);
  }
}
