// Bundles the built command line (dist/cli/main-cli.js) into dist/bundle/ for `deskgate inject`,
// which an MTA starts once per message (issue 15): Node then resolves, reads and compiles a few
// files instead of ~280 modules. Code splitting keeps the other commands' code in chunks that
// inject never loads. Only inject runs from here (src/main.ts): the thread entry points
// (parse-worker, processing/thread) are found next to their callers, which a bundle moves.
// better-sqlite3 stays outside (a native addon), as do packages loaded by createRequire at
// run time (mailauth, liquidjs, pino-pretty), found from dist/bundle/ in node_modules.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}dist/bundle`;
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [`${root}dist/cli/main-cli.js`],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['better-sqlite3'],
  minifySyntax: true,
  minifyWhitespace: true,
  // Bundled CommonJS packages call require(): give ESM output one.
  banner: { js: "import { createRequire as __deskgateRequire } from 'node:module'; const require = __deskgateRequire(import.meta.url);" },
  logLevel: 'warning',
});
