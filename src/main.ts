#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isPipeIntake } from './cli/pipe-intake.js';
import { loadBundle } from './cli/code-cache.js';

/**
 * `deskgate -c FILE inject …` as `deskgate inject … -c FILE`: admins put the config first too,
 * and `-c` belongs to each command.
 */
function hoistConfig(argv: string[]): string[] {
  const first = argv[2] ?? '';
  const take = first === '-c' || first === '--config' ? 2 : /^(--config=|-c.)/.test(first) ? 1 : 0;
  if (take === 0) return argv;
  const rest = argv.slice(2 + take);
  const end = rest.indexOf('--');
  const at = end === -1 ? rest.length : end;
  return [...argv.slice(0, 2), ...rest.slice(0, at), ...argv.slice(2, 2 + take), ...rest.slice(at)];
}

const argv = hoistConfig(process.argv);
// An MTA starts `deskgate inject` once per message, so its start is the pipe's cost (issue 15):
// it runs from the CommonJS bundle `npm run build` makes (scripts/bundle.mjs), inject's code
// alone in one file, with the V8 code cache the build's warm-up run wrote beside it.
// DESKGATE_NO_BUNDLE=1 runs the modules as built, as every other command does.
const bundle = fileURLToPath(new URL('./bundle/inject.cjs', import.meta.url));
const bundled = isPipeIntake(argv.slice(2)) && process.env.DESKGATE_NO_BUNDLE !== '1' && existsSync(bundle);
type Cli = typeof import('./cli/main-cli.js');

async function loadCli(): Promise<Cli> {
  if (bundled) {
    try {
      const loaded = loadBundle<Cli>(bundle, `${bundle}.cache`);
      // The build's warm-up run (scripts/bundle.mjs) writes the cache once inject has run.
      if (process.env.DESKGATE_CODE_CACHE_WRITE === '1') process.once('exit', () => loaded.writeCache());
      if (process.env.DESKGATE_BUNDLE_REPORT === '1') process.stderr.write(`deskgate: inject bundle, code cache ${loaded.cache}\n`);
      return loaded.exports;
    } catch (err) {
      // A broken bundle must not bounce mail (exit 1): the modules as built do the same work.
      process.stderr.write(`deskgate: the inject bundle did not load (${(err as Error).message}); using the built modules\n`);
    }
  }
  return import('./cli/main-cli.js');
}

await (await loadCli()).runCli(argv);
