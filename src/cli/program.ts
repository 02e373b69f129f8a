import { Command, CommanderError } from 'commander';
import { isPipeIntake, PIPE_HINT } from './pipe-intake.js';
import { CliError, EX_SOFTWARE, EX_TEMPFAIL, EX_USAGE } from './context.js';

/** Registers the commands a command line needs (commands.ts; inject-cli.ts: inject alone). */
export type RegisterCommands = (program: Command, args: readonly string[]) => Promise<void>;

/**
 * The `deskgate` command line (argv as process.argv, the config option already hoisted by
 * main.ts): parses the arguments and hands over to the command module `register` loads.
 */
export async function runProgram(argv: string[], register: RegisterCommands): Promise<void> {
  // An MTA bounces 64 for good: a pipe intake's command-line errors defer instead (see inject.ts).
  const pipeIntake = isPipeIntake(argv.slice(2));

  /** The `deskgate` command: parses arguments and hands over to one command module. */
  const program = new Command('deskgate')
    .description('deskgate: self-hosted helpdesk mail gateway')
    .version('0.1.0')
    .showHelpAfterError(!pipeIntake)
    .exitOverride();
  if (pipeIntake) program.configureOutput({ outputError: () => {} });
  if (pipeIntake) {
    // An uncaught error would exit 1, which an MTA bounces; a stored message is deduplicated on retry (R7).
    process.on('uncaughtException', (err) => {
      process.stderr.write(`deskgate inject: unexpected error: ${err.stack ?? String(err)}\n`);
      process.exit(EX_TEMPFAIL);
    });
  }

  try {
    // Only the running command's module is loaded (an MTA starts inject once per message).
    await register(program, argv.slice(2));
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode !== 0 && pipeIntake) {
        const line = err.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ');
        process.stderr.write(`deskgate inject: ${line} (${PIPE_HINT})\n`);
      }
      process.exitCode = err.exitCode === 0 ? 0 : pipeIntake ? EX_TEMPFAIL : EX_USAGE;
    } else if (err instanceof CliError) {
      if (err.message) process.stderr.write(`deskgate: ${err.message}\n`);
      process.exitCode = err.exitCode;
    } else {
      process.stderr.write(`deskgate: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
      // 70 would bounce a piped message: defer it instead.
      process.exitCode = pipeIntake ? EX_TEMPFAIL : EX_SOFTWARE;
    }
  }
}
