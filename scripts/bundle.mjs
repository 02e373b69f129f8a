// Bundles `deskgate inject` (dist/cli/inject-cli.js), which an MTA starts once per message
// (issue 15), into one CommonJS file, dist/bundle/inject.cjs, and writes its V8 code cache
// (inject.cjs.cache) from a warm-up run: src/main.ts runs the bundle through vm.Script with that
// cache, so Node neither resolves ~280 modules nor compiles ~4 MB of JavaScript per message.
// Only inject runs from here: the other commands and the daemon's threads run from dist/.
// better-sqlite3 stays outside (a native addon), as do the packages other commands load by
// createRequire at run time (mailauth, pino-pretty, prom-client), found from dist/bundle/ in
// node_modules; liquidjs, which inject renders notifications with, is bundled (see below).
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/**
 * triggers/templates.js loads liquidjs by createRequire on the first template (so that the
 * modules' import graph stays without it); in the bundle a plain require() does the same lazily,
 * and esbuild then bundles liquidjs, whose code the cache then holds too.
 */
const bundleLiquid = {
  name: 'bundle-liquid',
  setup(b) {
    b.onLoad({ filter: /[\\/]dist[\\/]triggers[\\/]templates\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const call = "createRequire(import.meta.url)('liquidjs')";
      if (!source.includes(call)) throw new Error(`${args.path} no longer loads liquidjs by ${call}: update scripts/bundle.mjs`);
      return { contents: source.replace(call, "require('liquidjs')"), loader: 'js' };
    });
  },
};

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}dist/bundle`;
const bundle = `${outdir}/inject.cjs`;
rmSync(outdir, { recursive: true, force: true });
const { outputFiles } = await build({
  entryPoints: [`${root}dist/cli/inject-cli.js`],
  outfile: bundle,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external: ['better-sqlite3'],
  minifySyntax: true,
  minifyWhitespace: true,
  // The build id ties the code cache to this bundle (src/cli/code-cache.ts); import.meta.url,
  // which CommonJS lacks, becomes the bundle's own URL.
  banner: { js: `//deskgate-build:${randomBytes(8).toString('hex')}\nvar __deskgateUrl = require("node:url").pathToFileURL(__filename).href;` },
  define: { 'import.meta.url': '__deskgateUrl' },
  plugins: [bundleLiquid],
  write: false,
  logLevel: 'warning',
});

// esbuild leaves non-ASCII characters in regular expressions (email-reply-parser's "écrit",
// "写道"); written as \u escapes, which mean the same there and in strings, the bundle is ASCII
// and Node reads it into a one-byte string (src/cli/code-cache.ts): 5 ms instead of 14.
mkdirSync(outdir, { recursive: true });
writeFileSync(bundle, outputFiles[0].text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));

// The warm-up: inject processes two messages (no daemon runs) in a throwaway data dir, so V8
// has compiled what a pipe run compiles; the second run writes the cache. A cache from another
// Node version or other V8 flags is refused by V8, and inject then compiles as usual.
const dir = mkdtempSync(join(tmpdir(), 'deskgate-bundle-'));
try {
  const config = join(dir, 'deskgate.yaml');
  writeFileSync(config, `data_dir: ${JSON.stringify(join(dir, 'data'))}\nsupport_addresses: [{ address: help@warmup.test }]\nlog: { level: error }\n`);
  for (const [i, write] of [[1, '0'], [2, '1']]) {
    const mail = [
      'From: Warm Up <warm@customer.test>', 'To: help@warmup.test', `Subject: Warm-up ${i}`,
      `Message-ID: <warmup-${i}@customer.test>`, 'MIME-Version: 1.0', 'Content-Type: multipart/alternative; boundary="b"',
      '', '--b', 'Content-Type: text/plain; charset=utf-8', '', 'Hello, the printer is broken.', '--b',
      'Content-Type: text/html; charset=utf-8', '', '<p>Hello, the <b>printer</b> is broken.</p>', '--b--', '',
    ].join('\r\n');
    const run = spawnSync(process.execPath, [`${root}dist/main.js`, 'inject', '-c', config, '--json'], {
      input: mail,
      env: { ...process.env, DESKGATE_CODE_CACHE_WRITE: write, DESKGATE_BUNDLE_REPORT: '1' },
      encoding: 'utf8',
    });
    if (run.status !== 0 || !/"status":\s*"done"/.test(run.stdout)) {
      throw new Error(`the bundle's warm-up inject failed (exit ${run.status}): ${run.stderr}${run.stdout}`);
    }
  }
  if (!existsSync(`${bundle}.cache`)) throw new Error('the warm-up run wrote no code cache');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
