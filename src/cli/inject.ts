import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { withApp, configOption, CliError, EX_NOUSER, EX_TEMPFAIL, EX_DATAERR, EX_USAGE } from './context.js';
import { printJson } from './format.js';
import { isAccepted } from '../ingest/index.js';
import { recipientsFromHeaders } from '../ingest/recipients.js';
import { normalizeAddress } from '../shared/addresses.js';
import { ConfigError } from '../config/index.js';

async function readInput(file: string | undefined): Promise<Buffer> {
  if (file && file !== '-') return readFile(file);
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export function registerInject(program: Command): void {
  configOption(program.command('inject [file]').description('pipe intake: store one message from FILE or stdin (exit 0 stored, 67 unknown recipient, 75 try again)'))
    .option('--recipient <address...>', 'envelope recipient(s); default: the support addresses in the headers')
    .option('--sender <address>', 'envelope sender')
    .option('--json', 'print the result as JSON')
    .action(async (file: string | undefined, opts: { config: string; recipient?: string[]; sender?: string; json?: boolean }) => {
      let raw: Buffer;
      try {
        raw = await readInput(file);
      } catch (err) {
        throw new CliError(`cannot read ${file ?? 'stdin'}: ${(err as Error).message}`, EX_USAGE);
      }
      if (raw.length === 0) throw new CliError('empty message', EX_DATAERR);
      try {
        await withApp(opts.config, async (app, config, logger) => {
          const given = (opts.recipient ?? []).map(normalizeAddress);
          const unknown = given.filter((a) => !app.supportAddressOf(a));
          if (unknown.length > 0) throw new CliError(`not a support address: ${unknown.join(', ')} (R5)`, EX_NOUSER);
          const to = given.length > 0 ? given.map((a) => app.supportAddressOf(a)!) : recipientsFromHeaders(raw, app.supportAddressOf);
          if (to.length === 0) throw new CliError('the message is not addressed to any support address; give --recipient (R5)', EX_NOUSER);
          const result = await app.accept(raw, { via: 'pipe', from: opts.sender ? normalizeAddress(opts.sender) : null, to });
          if (!isAccepted(result)) throw new CliError(`message too large: ${result.size} bytes, limit ${config.smtp.max_message_size} (R8)`, EX_DATAERR);
          // Stored: from here on the exit status is 0 whatever processing does (a failure is kept, R8).
          const outcome = result.duplicate ? undefined : await app.processor.processOne(result.intakeId);
          const intake = app.intake.get(result.intakeId)!;
          logger.info({ event: 'ingest:accepted', via: 'pipe', intake_id: result.intakeId, message_id: result.messageId, duplicate: result.duplicate, ticket_id: intake.ticket_id }, 'message accepted');
          const out = { intake_id: result.intakeId, message_id: result.messageId, duplicate: result.duplicate, status: intake.status, ticket_id: intake.ticket_id, error: outcome?.error ?? intake.error };
          if (opts.json) printJson(out);
          else process.stdout.write(`stored as intake ${out.intake_id}${out.duplicate ? ' (duplicate of a stored message)' : ''}: ${out.status}${out.ticket_id ? `, ticket ${out.ticket_id}` : ''}${out.error ? ` (${out.error})` : ''}\n`);
        });
      } catch (err) {
        if (err instanceof CliError) throw err;
        if (err instanceof ConfigError) throw err;
        // The MTA keeps the message and tries again later.
        throw new CliError(`temporary failure: ${(err as Error).message}`, EX_TEMPFAIL);
      }
    });
}
