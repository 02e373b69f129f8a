import { z } from 'zod';

// Config is validated once per process: zod's JIT (a compiled fast path per object schema, made
// with new Function) costs more than it saves here, and inject starts once per message (issue 15).
z.config({ jitless: true });
import { parseDuration, parseSize } from '../shared/units.js';
import { isPlausibleAddress, normalizeAddress, isLoopbackHost } from '../shared/addresses.js';
import { ruleSetSchema, triggerSchema, automationSchema } from '../triggers/definitions.js';
import { checkRuleSet } from '../triggers/rule-book.js';
import { isValidIpEntry } from '../shared/ip-list.js';

/**
 * The one place where every config key, its type and its default live.
 * config/deskgate.example.yaml documents the same keys for admins; keep the two in step.
 */

const duration = (def: string) =>
  z
    .union([z.string(), z.number()])
    .default(def)
    .transform((v, ctx) => {
      const ms = parseDuration(v);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `not a duration: ${JSON.stringify(v)} (use e.g. 30s, 5m, 1h, 2d)` });
        return z.NEVER;
      }
      return ms;
    });

const size = (def: string) =>
  z
    .union([z.string(), z.number()])
    .default(def)
    .transform((v, ctx) => {
      const bytes = parseSize(v);
      if (bytes === undefined) {
        ctx.addIssue({ code: 'custom', message: `not a size: ${JSON.stringify(v)} (use e.g. 512KB, 25MB)` });
        return z.NEVER;
      }
      return bytes;
    });

const address = z
  .string()
  .transform(normalizeAddress)
  .refine(isPlausibleAddress, { message: 'not a valid email address' });

const hostPort = z.object({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65535),
}).strict();

/** A Unix socket to listen on (R73): created at start, with this mode and, when given, owner and group. */
const socketPath = z.object({
  path: z.string().min(1).refine((p) => p.startsWith('/'), 'path must be absolute'),
  /** Octal, as chmod takes it: 0660 lets the owner and the group connect (put the MTA's user in the group). */
  mode: z.string().regex(/^0?[0-7]{3}$/, 'mode must be octal, e.g. "0660"').default('0660'),
  /** A user name or uid (chown needs root, or the owner itself with a group it is in). */
  owner: z.string().min(1).optional(),
  group: z.string().min(1).optional(),
}).strict();

/** LMTP over TCP: this host only (its clients are trusted like the allowlist, R73). */
const loopbackHostPort = hostPort.refine((h) => isLoopbackHost(h.host), {
  message: 'an LMTP TCP address must be on this host (127.0.0.1, ::1): LMTP clients are trusted like smtp.client_allowlist',
});

/**
 * R73: LMTP (RFC 2033) for an MTA on this host: the same intake as SMTP, with one reply per
 * recipient after DATA. The MTA already accepted the mail, so its clients are trusted like the
 * allowlist (no per-IP session limit, no sender-rate refusal) and SMTP's header refusals (R45)
 * are left to it.
 */
const lmtp = z.object({
  listen: z.array(z.union([socketPath, loopbackHostPort])).min(1, 'lmtp.listen needs a socket path or a host and port'),
  max_clients: z.number().int().positive().default(50),
}).strict();

const ipEntry = z.string().refine(isValidIpEntry, { message: 'not an IP address or CIDR range' });

const smtp = z.object({
  listen: z.array(hostPort).default([{ host: '127.0.0.1', port: 2525 }]),
  hostname: z.string().min(1).default('localhost'),
  max_message_size: size('25MB'),
  tls: z.object({ key: z.string().min(1), cert: z.string().min(1) }).strict().optional(),
  max_clients: z.number().int().positive().default(100),
  /** RFC 5321 4.5.3.1.8: a server must take at least 100 recipients per message. */
  max_recipients: z.number().int().positive().default(100),
  socket_timeout: duration('60s'),
  /** Reverse DNS of connecting clients: only for logs, off in tests (no DNS there). */
  reverse_lookup: z.boolean().default(true),
  /** Below 256KB: ingest reads at most 256KB of a header block, so a larger limit could not be enforced. */
  max_header_size: size('64KB').refine((b) => b < 256 * 1024, 'max_header_size must be less than 256KB (deskgate reads at most 256KB of a message header, so a larger limit could not be enforced)'),
  max_sessions_per_ip: z.number().int().positive().default(20),
  /** Exempt from the per-IP session limit (only max_clients bounds them) and the sender rate refusal: your own relays. */
  client_allowlist: z.array(ipEntry).default([]),
  /** Refused at connect with 554. */
  client_denylist: z.array(ipEntry).default([]),
  /** How long SIGTERM lets sessions in DATA finish before answering 421; other sessions get 421 at once. */
  close_timeout: duration('10s'),
  /** Whole-session deadline (421 4.4.2); a message already received gets its reply first. */
  session_timeout: duration('10m').refine((ms) => ms > 0, 'session_timeout must be more than 0'),
  /** How far DATA may fall behind data_min_rate (Postfix: smtpd_timeout with smtpd_min_data_rate); then 421 4.4.2, nothing stored. */
  data_timeout: duration('5m').refine((ms) => ms > 0, 'data_timeout must be more than 0'),
  /** Bytes per second that extend the DATA deadline; 0 makes data_timeout a hard limit on the whole DATA. */
  data_min_rate: z.number().int().min(0).default(500),
  /** NOOP, RSET, VRFY, HELP, ETRN, EXPN and unknown commands per session, reset by a delivered message (Postfix smtpd_junk_command_limit); past it 421 4.7.0. */
  junk_command_limit: z.number().int().positive().default(100),
}).strict();

const supportAddress = z.object({
  address,
  name: z.string().optional(),
  group: z.string().optional(),
}).strict();

const agent = z.object({
  email: address,
  name: z.string().optional(),
  role: z.enum(['admin', 'agent', 'light_agent']).default('agent'),
  groups: z.array(z.string()).default([]),
}).strict();

const blocklistEntry = z.string().transform((s) => s.trim().toLowerCase()).refine(
  (s) => /^\*@[^@\s]+$/.test(s) || isPlausibleAddress(s),
  { message: 'blocklist entries are addresses or *@domain patterns' },
);

const ccs = z.object({
  enabled: z.boolean().default(true),
  end_users_can_add: z.boolean().default(true),
  agent_ccs_become_followers: z.boolean().default(false),
  max: z.number().int().min(0).max(1000).default(48),
  blocklist: z.array(blocklistEntry).default([]),
}).strict();

const email = z.object({
  third_party_replies: z.enum(['private', 'public']).default('private'),
  agent_forwarding: z.boolean().default(true),
  reply_line: z.string().min(5).default('##- Please type your reply above this line -##'),
  use_reply_to_as_requester: z.boolean().default(false),
}).strict();

const trust = z.object({
  verify: z.boolean().default(true),
  require_authenticated_agents: z.boolean().default(true),
  trusted_authserv_id: z.string().optional(),
}).strict();

const dns = z.object({
  servers: z.array(z.string()).default([]),
  timeout: duration('3s'),
}).strict();

const limits = z.object({
  per_sender_per_hour: z.number().int().positive().default(20),
  /** R43 for end users (and any address that is not staff): past it, notifications are held. */
  notifications_per_recipient_per_hour: z.number().int().positive().default(20),
  /** R43 for agents, admins and light agents: still stops a runaway loop, never a busy helpdesk. */
  notifications_per_staff_per_hour: z.number().int().positive().default(500),
}).strict();

/** R72: where a mailbox login gets its access tokens (Microsoft 365, Google Workspace, any RFC 6749 endpoint). */
const oauth2 = z.object({
  token_url: z.string().url().refine((u) => {
    const url = new URL(u);
    return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname));
  }, 'token_url must be https:// (http:// only on this host)'),
  client_id: z.string().min(1),
  /** Required for client credentials; public clients with a refresh token may leave it out. */
  client_secret: z.string().min(1).optional(),
  /** Present: the refresh-token grant (a user's or shared mailbox's delegated access); absent: client credentials. */
  refresh_token: z.string().min(1).optional(),
  scope: z.string().min(1).optional(),
}).strict().refine((o) => o.refresh_token !== undefined || o.client_secret !== undefined, {
  message: 'oauth2 needs refresh_token (refresh-token grant) or client_secret (client-credentials grant)',
});

/** A login takes a password or oauth2, exactly one (R72). */
const oneSecret = (what: string) => (a: { pass?: string | undefined; oauth2?: unknown }, ctx: z.RefinementCtx) => {
  if ((a.pass !== undefined) === (a.oauth2 !== undefined)) ctx.addIssue({ code: 'custom', message: `${what} needs either pass or oauth2, not ${a.pass !== undefined ? 'both' : 'neither'}` });
};

const outbound = z.object({
  smtp: z.object({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(587),
    secure: z.boolean().default(false),
    auth: z.object({ user: z.string(), pass: z.string().optional(), oauth2: oauth2.optional() }).strict()
      .superRefine(oneSecret('outbound.smtp.auth')).optional(),
  }).strict().optional(),
  retry_for: duration('2d'),
  retry_initial: duration('1m'),
  retry_max: duration('1h'),
  dkim: z.object({ domain: z.string(), selector: z.string(), private_key: z.string() }).strict().optional(),
  /**
   * R67: the envelope sender of notifications becomes `<local>+<outbox id>-<sig>@<domain>` of
   * this address, so each bounce names its message. Unset: the support address, as before.
   */
  return_path: address.refine((a) => !a.slice(0, a.lastIndexOf('@')).includes('+'), { message: 'the return path takes no +tag: deskgate adds one per message' }).optional(),
  /** R68: soft bounces (4.x.x) in a row that suppress an address like one hard bounce. */
  soft_bounce_limit: z.number().int().min(1).default(5),
}).strict();

const imapAccount = z.object({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(993),
  secure: z.boolean().default(true),
  user: z.string().min(1),
  /** A password, or (R72) oauth2 for Microsoft 365 and Google, which refuse passwords. */
  pass: z.string().optional(),
  oauth2: oauth2.optional(),
  mailbox: z.string().default('INBOX'),
  processed_mailbox: z.string().optional(),
  poll_interval: duration('60s'),
  idle: z.boolean().default(true),
  address: address.optional(),
}).strict().superRefine(oneSecret('an IMAP account'));

const processing = z.object({
  /**
   * Processing threads beside the SMTP listener's event loop (parse, thread, rules, store,
   * triggers, outbox, sending), each with its own database connection; 0 processes on the
   * listener's own loop (the CLI's inject, tests). Mail of one thread stays on one worker.
   */
  workers: z.number().int().min(0).max(16).default(1),
  /** Messages waiting to be processed past which SMTP answers 451 4.3.2 and IMAP polling pauses. */
  backlog_high_water: z.number().int().min(100).default(50_000),
  /**
   * The processing threads' (and their parser threads') nice value on Linux, so that on a busy
   * machine the SMTP listener gets the CPU first and a backlog never slows acceptance; 0 keeps
   * them at the listener's priority.
   */
  nice: z.number().int().min(0).max(19).default(10),
  /** Threads that parse MIME beside the event loop; 0 parses inline (useful in tests). */
  parse_workers: z.number().int().min(0).max(16).default(2),
  /** Intake rows claimed per processing batch. */
  batch_size: z.number().int().min(1).max(1000).default(64),
  /** A message whose parse takes longer (counted from when its thread starts it) is failed (R8) and its thread replaced. */
  parse_timeout: duration('30s'),
  /** Heap limit of each parser thread; a message that needs more is failed alone (R8, PARSE_TOO_BIG). */
  parse_memory: size('512MB').refine((b) => b >= 64 * 1024 ** 2, 'parse_memory must be at least 64MB'),
  /** Raw bytes a batch reads and parses at once; a bigger batch is processed in parts (a larger message alone). */
  batch_bytes: size('64MB'),
  /** A claim whose holder has not renewed its heartbeat for this long is taken back (renewed every third of it). */
  claim_lease: duration('30s').refine((ms) => ms >= 3000, 'claim_lease must be at least 3s (the heartbeat runs every third of it)'),
}).strict();

/** Where tickets and queues live: SQLite in data_dir (embedded default) or PostgreSQL shared by several nodes (R71). */
const store = z.object({
  backend: z.enum(['sqlite', 'postgres']).default('sqlite'),
  /** postgres://user:pass@host:5432/db (usually ${DESKGATE_DATABASE_URL}); required for postgres. */
  url: z.string().optional(),
  /** Connections in each pool a node keeps to PostgreSQL (one for the listener, one per processing thread). */
  pool_size: z.number().int().min(2).max(100).default(10),
}).strict().superRefine((s, ctx) => {
  if (s.backend === 'postgres' && !s.url) ctx.addIssue({ code: 'custom', path: ['url'], message: 'store.url is required when store.backend is postgres' });
  if (s.url !== undefined && !/^postgres(ql)?:\/\//.test(s.url)) ctx.addIssue({ code: 'custom', path: ['url'], message: 'store.url must be a postgres:// URL' });
  if (s.backend === 'sqlite' && s.url !== undefined) ctx.addIssue({ code: 'custom', path: ['url'], message: 'store.url is only for store.backend: postgres' });
});

export const configSchema = z.object({
  data_dir: z.string().default('./data'),
  store: store.default(store.parse({})),
  base_url: z.string().url().optional(),
  secret: z.string().optional(),
  smtp: smtp.default(smtp.parse({})),
  lmtp: lmtp.optional(),
  support_addresses: z.array(supportAddress).min(1, { message: 'at least one support address is needed' }),
  groups: z.array(z.object({ name: z.string().min(1) }).strict()).default([]),
  agents: z.array(agent).default([]),
  ccs: ccs.default(ccs.parse({})),
  email: email.default(email.parse({})),
  trust: trust.default(trust.parse({})),
  dns: dns.default(dns.parse({})),
  limits: limits.default(limits.parse({})),
  outbound: outbound.default(outbound.parse({})),
  imap: z.array(imapAccount).default([]),
  // Omitted: the shipped defaults (R51, R52). A list replaces them; { defaults: true, items } patches/extends by id.
  triggers: ruleSetSchema(triggerSchema).optional(),
  automations: ruleSetSchema(automationSchema).optional(),
  automations_interval: duration('1h'),
  suspended: z.object({ keep_days: z.number().int().positive().default(14) }).strict().default({ keep_days: 14 }),
  metrics: z.object({ listen: z.string() }).strict().optional(),
  log: z.object({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** auto: human lines on a terminal, JSON under systemd, Docker or a pipe. */
    format: z.enum(['auto', 'json', 'pretty']).default('auto'),
  }).strict().default({ level: 'info', format: 'auto' }),
  processing: processing.default(processing.parse({})),
}).strict().superRefine((cfg, ctx) => {
  const groupNames = new Set(cfg.groups.map((g) => g.name));
  cfg.support_addresses.forEach((s, i) => {
    if (s.group !== undefined && !groupNames.has(s.group)) {
      ctx.addIssue({ code: 'custom', path: ['support_addresses', i, 'group'], message: `unknown group "${s.group}" (not in groups:)` });
    }
  });
  const seen = new Set<string>();
  cfg.agents.forEach((a, i) => {
    if (seen.has(a.email)) ctx.addIssue({ code: 'custom', path: ['agents', i, 'email'], message: `agent ${a.email} is listed twice` });
    seen.add(a.email);
    a.groups.forEach((g, j) => {
      if (!groupNames.has(g)) ctx.addIssue({ code: 'custom', path: ['agents', i, 'groups', j], message: `unknown group "${g}" (not in groups:)` });
    });
  });
  const ruleCtx = { groups: [...groupNames], agents: cfg.agents.filter((a) => a.role !== 'light_agent').map((a) => a.email), staff: cfg.agents.map((a) => a.email) };
  for (const kind of ['triggers', 'automations'] as const) {
    for (const p of checkRuleSet(cfg[kind], kind, ruleCtx)) ctx.addIssue({ code: 'custom', path: [kind, ...p.path], message: p.message });
  }
  const support = new Set(cfg.support_addresses.map((s) => s.address));
  cfg.imap.forEach((a, i) => {
    if (a.address !== undefined && !support.has(a.address)) ctx.addIssue({ code: 'custom', path: ['imap', i, 'address'], message: `${a.address} is not a support address` });
    if (a.processed_mailbox !== undefined && a.processed_mailbox === a.mailbox) ctx.addIssue({ code: 'custom', path: ['imap', i, 'processed_mailbox'], message: 'processed_mailbox must differ from mailbox' });
  });
  cfg.agents.forEach((a, i) => {
    if (support.has(a.email)) ctx.addIssue({ code: 'custom', path: ['agents', i, 'email'], message: 'a support address cannot be an agent (R1)' });
  });
  const rp = cfg.outbound.return_path;
  // Its +tags would read as reply tokens (R11), and a bounce would be taken for a reply.
  if (rp !== undefined && support.has(rp)) ctx.addIssue({ code: 'custom', path: ['outbound', 'return_path'], message: 'the return path must not be a support address' });
  if (rp !== undefined && cfg.agents.some((a) => a.email === rp)) ctx.addIssue({ code: 'custom', path: ['outbound', 'return_path'], message: 'the return path must not be an agent' });
});

export type Config = z.output<typeof configSchema> & { readonly configPath: string; readonly configDir: string };
export type SupportAddress = Config['support_addresses'][number];
export type AgentConfig = Config['agents'][number];
