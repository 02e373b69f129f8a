import { registerCommands } from './commands.js';
import { runProgram } from './program.js';

/** The `deskgate` command line, every command (argv as process.argv, `-c` hoisted by main.ts). */
export const runCli = (argv: string[]): Promise<void> => runProgram(argv, registerCommands);
