import type { Command } from 'commander';
import { configJsonSchemaText } from '../config/json-schema.js';

/** The `config` command group; later `config` subcommands join the same group. */
export function configCommand(program: Command): Command {
  return program.commands.find((c) => c.name() === 'config') ?? program.command('config').description('the config file itself');
}

export function registerConfigSchema(program: Command): void {
  configCommand(program).command('schema')
    .description("print the config's JSON Schema (draft 2020-12); config/deskgate.schema.json is this output")
    .action(() => {
      // Needs no config file: the schema is the same for every deployment.
      process.stdout.write(configJsonSchemaText());
    });
}
