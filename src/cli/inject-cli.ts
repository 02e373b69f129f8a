import { runProgram } from './program.js';

/**
 * `deskgate inject` alone: the entry point of the pipe's bundle (scripts/bundle.mjs). It never
 * imports commands.ts, whose table would pull every other command into the bundle.
 */
export const runCli = (argv: string[]): Promise<void> =>
  runProgram(argv, async (program) => (await import('./inject.js')).registerInject(program));
