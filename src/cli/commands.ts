import type { Command } from 'commander';

type Register = (program: Command) => void;

/**
 * Every command module with the top-level commands it registers, in help order. main.ts imports
 * only the module of the command that runs: an MTA starts `deskgate inject` for each message, and
 * the other commands' modules (the daemon, explain, backup, the JSON schema) cost it start time.
 */
export const COMMAND_MODULES: ReadonlyArray<{ names: readonly string[]; load: () => Promise<Register> }> = [
  { names: ['serve'], load: async () => (await import('./serve.js')).registerServe },
  { names: ['check-config'], load: async () => (await import('./check-config.js')).registerCheckConfig },
  { names: ['inject'], load: async () => (await import('./inject.js')).registerInject },
  { names: ['tickets'], load: async () => (await import('./tickets.js')).registerTickets },
  { names: ['failed'], load: async () => (await import('./failed.js')).registerFailed },
  { names: ['explain'], load: async () => (await import('./explain.js')).registerExplain },
  { names: ['outbox'], load: async () => (await import('./outbox.js')).registerOutbox },
  { names: ['triggers', 'automations'], load: async () => (await import('./rules.js')).registerRules },
  { names: ['imap'], load: async () => (await import('./imap.js')).registerImap },
  { names: ['suspended'], load: async () => (await import('./suspended.js')).registerSuspended },
  { names: ['suppressions'], load: async () => (await import('./suppressions.js')).registerSuppressions },
  { names: ['backup', 'restore', 'stats'], load: async () => (await import('./ops.js')).registerOps },
  { names: ['config'], load: async () => (await import('./config-schema.js')).registerConfigSchema },
  { names: ['migrate', 'copy-store'], load: async () => (await import('./store.js')).registerStore },
];

/**
 * The modules a command line needs: the one registering its command; all of them for help,
 * --version, no command or an unknown one (so help lists every command and commander can
 * suggest the nearest name).
 */
export function modulesFor(args: readonly string[]): Array<() => Promise<Register>> {
  const first = args[0];
  const one = first === undefined ? undefined : COMMAND_MODULES.find((m) => m.names.includes(first));
  return (one ? [one] : COMMAND_MODULES).map((m) => m.load);
}

/** Registers the commands a command line needs on `program`. */
export async function registerCommands(program: Command, args: readonly string[]): Promise<void> {
  const registers = await Promise.all(modulesFor(args).map((load) => load()));
  for (const register of registers) register(program);
}
