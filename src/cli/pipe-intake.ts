// Exit codes for an MTA's pipe transport. Postfix pipe(8)/local(8) defer only on 75 and 71
// (sys_exits.c: the codes whose DSN is 4.x.x); 64, 65, 66, 67, 70 and 78 bounce for good. So
// anything an admin can get wrong in the pipe command or the config ends with 75: the mail
// waits in the MTA's queue until it is fixed. Kept apart from inject.ts so that main.ts can
// tell a pipe intake before it loads any command module.
export const PIPE_HINT = 'exit 75: the MTA keeps the message; fix the pipe command';

/**
 * Whether a command line is a pipe intake: then a command-line error (unknown option, missing
 * value, extra argument) exits 75 with one line instead of 64 and the usage text, which an MTA
 * would bounce to the sender.
 */
export function isPipeIntake(argv: string[]): boolean {
  // The command is the first word that is not an option (nor the value of -c/--config before
  // it): `deskgate explain inject` or `--sender inject` is not a pipe intake.
  let i = 0;
  while (argv[i]?.startsWith('-')) i += argv[i] === '-c' || argv[i] === '--config' ? 2 : 1;
  return argv[i] === 'inject';
}
