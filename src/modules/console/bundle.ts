import path from 'node:path';
import { createHash } from 'node:crypto';
import { build } from 'esbuild';

/** One built file of the console, served from memory. */
export interface ConsoleAsset {
  body: Buffer;
  contentType: string;
}

/** The console's built script and stylesheet, by their content-hashed names. */
export interface ConsoleBundle {
  script: string;
  stylesheet: string;
  files: Map<string, ConsoleAsset>;
}

/** Where the console's sources live: console/ at the repository root. */
export const CONSOLE_ENTRY = path.resolve(__dirname, '../../../console/src/main.tsx');

/**
 * Bundles the console (Preact + TSX, chart.js, its CSS) with esbuild into memory: no build step before
 * `npm start`, nothing written to disk, and every byte from the repository or node_modules. Names carry a
 * content hash so the files can be cached for good.
 */
export async function buildConsoleBundle(opts: { minify?: boolean } = {}): Promise<ConsoleBundle> {
  const result = await build({
    entryPoints: [CONSOLE_ENTRY],
    bundle: true,
    write: false,
    outdir: '/console-out',
    format: 'iife',
    target: ['es2020'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: opts.minify ?? true,
    legalComments: 'none',
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const files = new Map<string, ConsoleAsset>();
  let script = '';
  let stylesheet = '';
  for (const file of result.outputFiles) {
    const ext = path.extname(file.path);
    const hash = createHash('sha256').update(file.contents).digest('hex').slice(0, 12);
    const name = `app.${hash}${ext}`;
    files.set(name, { body: Buffer.from(file.contents), contentType: ext === '.css' ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8' });
    if (ext === '.js') script = name;
    if (ext === '.css') stylesheet = name;
  }
  if (!script || !stylesheet) throw new Error('The console bundle is missing its script or stylesheet');
  return { script, stylesheet, files };
}
