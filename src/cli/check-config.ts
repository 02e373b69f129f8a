import type { Command } from 'commander';
import { loadConfig, ConfigError, EX_CONFIG } from '../config/index.js';
import { configOption, CliError } from './context.js';
import { printJson } from './format.js';
import { configWarnings } from './config-warnings.js';

export function registerCheckConfig(program: Command): void {
  configOption(program.command('check-config').description('validate the config; exit 0 when usable, 78 when not'))
    .option('--json', 'print the result as JSON')
    .action((opts: { config: string; json?: boolean }) => {
      try {
        const config = loadConfig(opts.config);
        const summary = {
          ok: true, file: config.configPath, data_dir: config.data_dir,
          support_addresses: config.support_addresses.map((s) => s.address),
          agents: config.agents.length, smtp: config.smtp.listen, problems: [] as unknown[], warnings: configWarnings(config),
        };
        if (opts.json) printJson(summary);
        else {
          for (const w of summary.warnings) process.stderr.write(`warning: ${w}\n`);
          process.stdout.write(`${config.configPath}: ok (${summary.support_addresses.length} support address(es), ${summary.agents} agent(s), data in ${config.data_dir})\n`);
        }
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        if (opts.json) {
          printJson({ ok: false, file: err.file, problems: err.problems });
          throw new CliError('', EX_CONFIG);
        }
        throw new CliError(err.message, EX_CONFIG);
      }
    });
}
