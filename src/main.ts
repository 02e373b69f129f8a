#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isPipeIntake } from './cli/pipe-intake.js';

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
// it runs from the bundle `npm run build` makes (scripts/bundle.mjs), a few files instead of
// hundreds of modules. DESKGATE_NO_BUNDLE=1 runs the modules as built, as every other command does.
const bundle = new URL('./bundle/main-cli.js', import.meta.url);
const bundled = isPipeIntake(argv.slice(2)) && process.env.DESKGATE_NO_BUNDLE !== '1' && existsSync(fileURLToPath(bundle));
type Cli = typeof import('./cli/main-cli.js');

async function loadCli(): Promise<Cli> {
  if (bundled) {
    try {
      return (await import(bundle.href)) as Cli;
    } catch (err) {
      // A broken bundle must not bounce mail (exit 1): the modules as built do the same work.
      process.stderr.write(`deskgate: the inject bundle did not load (${(err as Error).message}); using the built modules\n`);
    }
  }
  return import('./cli/main-cli.js');
}

await (await loadCli()).runCli(argv);
