#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { registerServe } from './cli/serve.js';
import { registerCheckConfig } from './cli/check-config.js';
import { registerInject } from './cli/inject.js';
import { registerTickets } from './cli/tickets.js';
import { registerFailed } from './cli/failed.js';
import { registerExplain } from './cli/explain.js';
import { registerOutbox } from './cli/outbox.js';
import { registerRules } from './cli/rules.js';
import { registerImap } from './cli/imap.js';
import { registerSuspended } from './cli/suspended.js';
import { registerOps } from './cli/ops.js';
import { registerConfigSchema } from './cli/config-schema.js';
import { CliError, EX_SOFTWARE } from './cli/context.js';

/** The `deskgate` command: parses arguments and hands over to one command module. */
const program = new Command('deskgate')
  .description('deskgate: self-hosted helpdesk mail gateway')
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride();

registerServe(program);
registerCheckConfig(program);
registerInject(program);
registerTickets(program);
registerFailed(program);
registerExplain(program);
registerOutbox(program);
registerRules(program);
registerImap(program);
registerSuspended(program);
registerOps(program);
registerConfigSchema(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? 0 : 64;
  } else if (err instanceof CliError) {
    if (err.message) process.stderr.write(`deskgate: ${err.message}\n`);
    process.exitCode = err.exitCode;
  } else {
    process.stderr.write(`deskgate: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = EX_SOFTWARE;
  }
}
