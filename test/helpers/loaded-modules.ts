import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runCli, ROOT } from './daemon.js';
import { uniqueId } from './mail.js';

const HOOK = pathToFileURL(join(ROOT, 'test/helpers/module-log.mjs')).href;

/**
 * Runs the built CLI with the module-log preload (module-log.mjs) and returns its result and
 * every module URL it loaded; the log file goes into `dir`.
 */
export async function runLoggingModules(dir: string, args: string[], opts: { input?: Buffer; env?: NodeJS.ProcessEnv } = {}) {
  const log = join(dir, `modules-${uniqueId('log')}.txt`);
  const r = await runCli(args, { input: opts.input, env: { ...opts.env, DESKGATE_MODULE_LOG: log, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${HOOK}` } });
  const modules = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  return { ...r, modules };
}

/** The packages (node_modules/<name>/, innermost copy) the modules come from. */
export const packagesOf = (modules: string[]): Set<string> =>
  new Set(modules.flatMap((u) => /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules\/)/.exec(u)?.[1] ?? []));
