import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/**
 * Bundles the pools console (Preact + uPlot, TypeScript) into services/api/dist/console: hashed, minified JS and CSS
 * under assets/ and the index.html shell that names them. The api serves these files and nothing else.
 */
const here = path.dirname(fileURLToPath(import.meta.url));
export const CONSOLE_OUT = path.join(here, '..', 'dist', 'console');

/** Builds into a fresh directory, then swaps it in: a server starting meanwhile sees the old or the new bundle. */
export async function buildConsole(outDir = CONSOLE_OUT): Promise<{ files: { name: string; bytes: number }[] }> {
  const finalDir = outDir;
  outDir = `${finalDir}.tmp-${process.pid}`;
  await rm(outDir, { recursive: true, force: true });
  await mkdir(path.join(outDir, 'assets'), { recursive: true });
  const result = await build({
    entryPoints: [path.join(here, 'src', 'main.tsx')],
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2022'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outdir: path.join(outDir, 'assets'),
    entryNames: '[name]-[hash]',
    metafile: true,
    legalComments: 'eof',
    logLevel: 'warning',
  });
  const outputs = Object.entries(result.metafile.outputs).map(([file, meta]) => ({ name: path.basename(file), bytes: meta.bytes }));
  const script = outputs.find((o) => o.name.endsWith('.js'))?.name;
  const style = outputs.find((o) => o.name.endsWith('.css'))?.name;
  if (!script || !style) throw new Error('the console bundle is missing its script or style sheet');
  const shell = (await readFile(path.join(here, 'index.html'), 'utf8')).replace('%SCRIPT%', `/console/assets/${script}`).replace('%STYLE%', `/console/assets/${style}`);
  await writeFile(path.join(outDir, 'index.html'), shell);
  await rm(finalDir, { recursive: true, force: true });
  // A concurrent build (two test files) may have put its identical bundle in place first.
  await rename(outDir, finalDir).catch(() => rm(outDir, { recursive: true, force: true }));
  return { files: outputs };
}

/** Builds unless the bundle is newer than every source file (tests run from source, CI builds first). */
export async function ensureConsoleBuilt(outDir = CONSOLE_OUT): Promise<void> {
  const built = await stat(path.join(outDir, 'index.html')).then((s) => s.mtimeMs, () => 0);
  const sources = [path.join(here, 'index.html'), ...(await readdir(path.join(here, 'src'))).map((f) => path.join(here, 'src', f))];
  const newest = Math.max(...(await Promise.all(sources.map((f) => stat(f).then((s) => s.mtimeMs)))));
  if (built < newest) await buildConsole(outDir);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { files } = await buildConsole();
  for (const f of files) console.log(`console: ${f.name} ${(f.bytes / 1024).toFixed(1)} KiB`);
}
