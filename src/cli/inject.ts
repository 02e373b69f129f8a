import { readFile } from 'node:fs/promises';
import { fstatSync } from 'node:fs';
import { isatty } from 'node:tty';
import type { Command } from 'commander';
import { withIntake, configOption, CliError, EX_NOUSER, EX_TEMPFAIL, EX_DATAERR } from './context.js';
import { printJson, collect } from './format.js';
// accept-message.js, not ingest/index.js: that one carries the SMTP listener (smtp-server).
import { isAccepted } from '../ingest/accept-message.js';
import { PIPE_HINT } from './pipe-intake.js';
import { recipientsFromHeaders } from '../ingest/recipients.js';
import { normalizeAddress, isPlausibleAddress } from '../shared/addresses.js';
import { errorCode, errorMessage } from '../shared/errors.js';
import { EX_CONFIG, ConfigError } from '../config/index.js';
import type { App } from '../compose.js';
import type { Logger } from '../shared/logger.js';
import type { IntakeRepo } from '../store/index.js';

// Every command-line or config error of the pipe exits 75 (see pipe-intake.ts).
const HINT = PIPE_HINT;

function readStdin(): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on('data', (c: Buffer) => chunks.push(c));
    process.stdin.once('end', () => resolve(Buffer.concat(chunks)));
    process.stdin.once('error', reject);
  });
}

/**
 * Whether stdin carries data while a FILE is given: an MTA writing the message to stdin with a
 * FILE in the argv would otherwise have its mail acknowledged as a "duplicate" of FILE. A
 * terminal, /dev/null, an empty file or a pipe at end of input carry none. A pipe that stays
 * open without data for `waitMs` (ssh without a terminal) counts as none: an MTA writes at once.
 */
async function stdinCarriesData(waitMs = 1000): Promise<boolean> {
  if (isatty(0)) return false;
  let stat;
  try {
    stat = fstatSync(0);
  } catch {
    return false; // stdin closed
  }
  if (stat.isFile()) return stat.size > 0;
  if (!stat.isFIFO() && !stat.isSocket()) return false;
  const stdin = process.stdin;
  return new Promise<boolean>((resolve) => {
    const finish = (data: boolean) => {
      clearTimeout(timer);
      stdin.removeAllListeners('data');
      stdin.destroy();
      resolve(data);
    };
    const timer = setTimeout(() => finish(false), waitMs);
    stdin.on('data', (c: Buffer) => { if (c.length > 0) finish(true); });
    stdin.once('end', () => finish(false));
    stdin.once('error', () => finish(false));
  });
}

async function readMessage(file: string | undefined): Promise<Buffer> {
  if (file === undefined || file === '-') return readStdin();
  let raw: Buffer;
  try {
    raw = await readFile(file);
  } catch (err) {
    const hint = isPlausibleAddress(file) ? '; an address? give each its own --recipient, or --recipient=${recipient} in master.cf' : '';
    throw new CliError(`cannot read ${file}: ${(err as Error).message}${hint} (${HINT})`, EX_TEMPFAIL);
  }
  if (await stdinCarriesData()) {
    throw new CliError(`a FILE (${file}) was given while stdin carries a message; give one or the other (${HINT})`, EX_TEMPFAIL);
  }
  return raw;
}

function checkRecipients(given: string[]): string[] {
  const addresses = given.map(normalizeAddress);
  const malformed = addresses.filter((a) => !isPlausibleAddress(a));
  if (malformed.length > 0) throw new CliError(`--recipient ${malformed.map((a) => JSON.stringify(a)).join(', ')}: not an address (${HINT})`, EX_TEMPFAIL);
  return addresses;
}

/**
 * The message is stored: whatever happens now, exit 0 (R6). A transient failure (a busy
 * database) gives the claim back at once so the daemon takes the message without waiting out
 * the claim's lease; a message that cannot be processed is kept as failed by the processor (R8).
 */
async function processStored(app: App, intakeId: number, logger: Logger) {
  try {
    return await app.processor.processOne(intakeId);
  } catch (err) {
    let released = false;
    // This process claimed only this message. Each try waits up to the busy timeout for the lock.
    for (let attempt = 0; attempt < 3 && !released; attempt++) {
      try { await app.intake.releaseClaims(app.ctx.nodeId); released = true; } catch { /* try again */ }
    }
    logger.warn({ event: 'ingest:processing_deferred', via: 'pipe', intake_id: intakeId, code: errorCode(err), err: errorMessage(err), released },
      released ? 'stored; processing failed for now, left to the daemon' : 'stored; processing failed and the claim could not be released: the daemon takes it after the claim lease');
    return undefined;
  }
}

/** How long `--process` waits for a message another process claimed first. */
const CLAIMED_ELSEWHERE_WAIT_MS = 30_000;

/** The row once it is no longer waiting or being processed, or as it is after the wait. */
async function settledRow(intake: Pick<IntakeRepo, 'get'>, id: number) {
  const until = Date.now() + CLAIMED_ELSEWHERE_WAIT_MS;
  for (;;) {
    const row = (await intake.get(id))!;
    if ((row.status !== 'received' && row.status !== 'processing') || Date.now() >= until) return row;
    await new Promise((r) => setTimeout(r, 50));
  }
}

type InjectOptions = { config: string; recipient: string[]; sender?: string; json?: boolean; process?: boolean };

async function inject(file: string | undefined, opts: InjectOptions): Promise<void> {
  const given = checkRecipients(opts.recipient);
  const raw = await readMessage(file);
  if (raw.length === 0) throw new CliError(`empty input: no message on stdin (${HINT})`, EX_TEMPFAIL);
  let stored = false;
  try {
    await withIntake(opts.config, async (intake, config, logger, processHere) => {
      const unknown = given.filter((a) => !intake.recipientOf(a));
      if (unknown.length > 0) throw new CliError(`not a support address: ${unknown.join(', ')} (R5)`, EX_NOUSER);
      const to = given.length > 0 ? given.map((a) => intake.recipientOf(a)!) : recipientsFromHeaders(raw, intake.recipientOf);
      if (to.length === 0) throw new CliError('the message is not addressed to any support address; give --recipient (R5)', EX_NOUSER);
      const result = await intake.accept(raw, { via: 'pipe', from: opts.sender ? normalizeAddress(opts.sender) : null, to });
      if (!isAccepted(result)) throw new CliError(`message too large: ${result.size} bytes, limit ${config.smtp.max_message_size} (R8)`, EX_DATAERR);
      stored = true;
      // A running daemon processes it (and this process loads none of the pipeline: issue 15);
      // without one, or with --process, it is processed here and now.
      const here = !result.duplicate && (opts.process === true || !(await intake.daemonRunning()));
      const outcome = here ? await processStored(await processHere(), result.intakeId, logger) : undefined;
      // --process promises the ticket: a daemon that claimed the message first is waited for.
      const row = opts.process === true && !outcome ? await settledRow(intake.intake, result.intakeId) : (await intake.intake.get(result.intakeId))!;
      logger.info({ event: 'ingest:accepted', via: 'pipe', intake_id: result.intakeId, message_id: result.messageId, duplicate: result.duplicate, ticket_id: row.ticket_id, processed_here: here }, 'message accepted');
      const out = { intake_id: result.intakeId, message_id: result.messageId, duplicate: result.duplicate, status: row.status, ticket_id: row.ticket_id, error: outcome?.error ?? row.error };
      const queued = !here && !result.duplicate && row.status === 'received';
      if (opts.json) printJson(out);
      else process.stdout.write(`stored as intake ${out.intake_id}${out.duplicate ? ' (duplicate of a stored message)' : ''}: ${queued ? 'queued for the running daemon' : out.status}${out.ticket_id ? `, ticket ${out.ticket_id}` : ''}${out.error ? ` (${out.error})` : ''}\n`);
    });
  } catch (err) {
    // Stored means acknowledged (R6): a later failure (reading the row back, closing) is no
    // reason for the MTA to deliver it again.
    if (stored) {
      process.stderr.write(`deskgate: stored; then: ${errorMessage(err)}\n`);
      return;
    }
    if ((err instanceof CliError && err.exitCode === EX_CONFIG) || err instanceof ConfigError) throw new CliError(`config: ${err.message} (${HINT})`, EX_TEMPFAIL);
    if (err instanceof CliError) throw err;
    // The MTA keeps the message and tries again later.
    throw new CliError(`temporary failure: ${errorMessage(err)}`, EX_TEMPFAIL);
  }
}

export function registerInject(program: Command): void {
  configOption(program.command('inject [file]').description('pipe intake: store one message from FILE or stdin (exit 0 stored, 67 unknown recipient, 75 try again)'))
    .option('--recipient <address>', 'envelope recipient; repeatable (default: the support addresses in the headers)', collect, [])
    .option('--sender <address>', 'envelope sender')
    .option('--json', 'print the result as JSON')
    .option('--process', 'process the message here even while deskgate serve runs (prints its ticket)')
    // A parse error is reported by main.ts in one line with exit 75 (see isPipeIntake).
    .showHelpAfterError(false)
    .configureOutput({ outputError: () => {} })
    .action(inject);
}

