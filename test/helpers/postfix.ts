import { execFile } from 'node:child_process';
import { chownSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './net.js';

const run = promisify(execFile);
const POSTFIX = '/usr/sbin/postfix';

/**
 * Why a private Postfix cannot run here, or undefined when it can: the binaries (Debian's
 * postfix package; install it with `debconf-set-selections <<< 'postfix postfix/main_mailer_type
 * select No configuration'` first, so no system instance starts), its mail_owner user, and root.
 */
export function postfixUnavailable(): string | undefined {
  if (!existsSync(POSTFIX)) return 'Postfix is not installed (apt-get install postfix)';
  if (userInfo().uid !== 0) return 'a private Postfix instance needs root to start';
  if (uidOf('postfix') === undefined) return 'no postfix user';
  return undefined;
}

/** A user's uid from /etc/passwd, or undefined. */
function uidOf(name: string): number | undefined {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
  return line === undefined ? undefined : Number(line.split(':')[2]);
}

/**
 * A throwaway Postfix instance (`postfix -c DIR`) in a temp dir: smtpd on 127.0.0.1 only, no
 * local delivery, no DNS; it relays what its loopback clients send for `relayDomains` to
 * 127.0.0.1:`relayPort` (smtp(8), connection cache on), as a company's MX in front of deskgate
 * would. Its log is DIR/maillog (postlogd), since these machines have no syslog.
 */
export class PrivatePostfix {
  readonly dir = mkdtempSync(join(tmpdir(), 'dg-postfix-'));
  port = 0;
  private started = false;

  /**
   * relayPort: deskgate's SMTP port; or lmtp: the Unix socket of deskgate's LMTP listener (R73),
   * which Postfix's lmtp(8) client then delivers the relay domains to (and relayPort gets the
   * rest: the outside world, when deskgate sends through this Postfix). mainCf: more lines.
   */
  constructor(private readonly opts: { relayPort: number; relayDomains?: string[]; concurrency?: number; lmtp?: string; mainCf?: string[] }) {}

  private mainCf(): string {
    const d = this.dir;
    return [
      'compatibility_level = 3.6',
      `queue_directory = ${d}/queue`, `data_directory = ${d}/data`, 'meta_directory = /etc/postfix',
      'mail_owner = postfix', 'setgid_group = postdrop',
      'inet_interfaces = 127.0.0.1', 'inet_protocols = ipv4',
      'myhostname = mx.deskgate.test', 'mydomain = deskgate.test', 'myorigin = $myhostname',
      'mydestination =', 'local_recipient_maps =', 'alias_maps =', 'alias_database =', 'biff = no',
      `relay_domains = ${(this.opts.relayDomains ?? ['acme.test']).join(', ')}`,
      `relayhost = [127.0.0.1]:${this.opts.relayPort}`,
      ...(this.opts.lmtp ? [`relay_transport = lmtp:unix:${this.opts.lmtp}`] : []),
      'mynetworks = 127.0.0.0/8',
      'smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination',
      'smtp_dns_support_level = disabled', 'smtp_host_lookup = native',
      `default_destination_concurrency_limit = ${this.opts.concurrency ?? 20}`,
      `maillog_file = ${d}/maillog`, `maillog_file_prefixes = ${d}`, 'syslog_name = postfix-dgtest',
      'smtpd_banner = $myhostname ESMTP',
      ...(this.opts.mainCf ?? []),
      '',
    ].join('\n');
  }

  private masterCf(): string {
    // No chroot (the temp dir holds no /etc copies); only the services relaying needs.
    const svc = (name: string, type: string, priv: string, wakeup: string, limit: string, cmd: string) => `${name} ${type} ${priv} - n ${wakeup} ${limit} ${cmd}`;
    return [
      svc(`127.0.0.1:${this.port}`, 'inet', 'n', '-', '-', 'smtpd'),
      svc('pickup', 'unix', 'n', '60', '1', 'pickup'), svc('cleanup', 'unix', 'n', '-', '0', 'cleanup'),
      svc('qmgr', 'unix', 'n', '300', '1', 'qmgr'), svc('rewrite', 'unix', '-', '-', '-', 'trivial-rewrite'),
      svc('bounce', 'unix', '-', '-', '0', 'bounce'), svc('defer', 'unix', '-', '-', '0', 'bounce'),
      svc('trace', 'unix', '-', '-', '0', 'bounce'), svc('verify', 'unix', '-', '-', '1', 'verify'),
      svc('flush', 'unix', 'n', '1000?', '0', 'flush'), svc('proxymap', 'unix', '-', '-', '-', 'proxymap'),
      svc('smtp', 'unix', '-', '-', '-', 'smtp'), svc('relay', 'unix', '-', '-', '-', 'smtp'), svc('lmtp', 'unix', '-', '-', '-', 'lmtp'),
      svc('showq', 'unix', 'n', '-', '-', 'showq'), svc('error', 'unix', '-', '-', '-', 'error'),
      svc('retry', 'unix', '-', '-', '-', 'error'), svc('discard', 'unix', '-', '-', '-', 'discard'),
      svc('anvil', 'unix', '-', '-', '1', 'anvil'), svc('scache', 'unix', '-', '-', '1', 'scache'),
      svc('postlog', 'unix-dgram', 'n', '-', '1', 'postlogd'),
      '',
    ].join('\n');
  }

  async start(): Promise<this> {
    const why = postfixUnavailable();
    if (why) throw new Error(why);
    this.port = await freePort();
    chmodSync(this.dir, 0o755); // postfix's own processes (mail_owner) walk into it
    mkdirSync(join(this.dir, 'queue'));
    mkdirSync(join(this.dir, 'data'));
    chownSync(join(this.dir, 'data'), uidOf('postfix')!, 0);
    writeFileSync(join(this.dir, 'main.cf'), this.mainCf());
    writeFileSync(join(this.dir, 'master.cf'), this.masterCf());
    await this.postfix('start');
    this.started = true;
    return this;
  }

  /** Runs `postfix -c DIR <command>`; a failure names the instance's log, where Postfix says why. */
  private async postfix(...args: string[]): Promise<void> {
    try {
      await run(POSTFIX, ['-c', this.dir, ...args], { timeout: 30_000 });
    } catch (err) {
      throw new Error(`postfix ${args.join(' ')} failed (${(err as Error).message.trim()}); log:\n${this.log().slice(-2000)}`);
    }
  }

  /** Points relaying at another port (and reloads). */
  async relayTo(port: number): Promise<void> {
    await run('/usr/sbin/postconf', ['-c', this.dir, '-e', `relayhost = [127.0.0.1]:${port}`]);
    await this.postfix('reload');
  }

  /** Tries every deferred message now (`postqueue -f`), as an admin does after fixing the next hop. */
  async flush(): Promise<void> {
    await run('/usr/sbin/postqueue', ['-c', this.dir, '-f']);
  }

  /** Messages in the queue (incoming, active, deferred, hold), or only those with a recipient `to`. */
  async queued(to?: string): Promise<number> {
    const { stdout } = await run('/usr/sbin/postqueue', ['-c', this.dir, '-j'], { maxBuffer: 64 * 1024 * 1024 });
    const entries = stdout.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as { recipients: Array<{ address: string }> });
    return to === undefined ? entries.length : entries.filter((e) => e.recipients.some((r) => r.address === to)).length;
  }

  log(): string {
    return existsSync(join(this.dir, 'maillog')) ? readFileSync(join(this.dir, 'maillog'), 'utf8') : '';
  }

  async stop(): Promise<void> {
    if (this.started) await this.postfix('stop').catch(() => this.postfix('abort').catch(() => {}));
    this.started = false;
    rmSync(this.dir, { recursive: true, force: true });
  }
}
