import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, existsSync, readFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { freePort } from './net.js';

export const IMAP_USER = 'support@acme.test';
export const IMAP_PASS = 'imap-secret';


function uidOf(user: string): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', user]).toString().trim());
  const gid = Number(execFileSync('id', ['-g', user]).toString().trim());
  return { uid, gid };
}

/**
 * A throwaway Dovecot 2.3 in the foreground on 127.0.0.1, with a passwd-file user and maildirs
 * under a temp dir. Mail is owned by the unprivileged `dovecot` user (mail_uid may not be 0).
 */
export class Dovecot {
  readonly dir = mkdtempSync(join(tmpdir(), 'deskgate-dovecot-'));

  /**
   * oauth2 (R72): XOAUTH2 and OAUTHBEARER logins besides the password, checked by Dovecot's
   * oauth2 passdb against `introspectionUrl` (a form POST of token=…; the answer must carry
   * "active"). Dovecot's auth cache stays off, so a revoked token fails the next login.
   */
  constructor(private readonly opts: { oauth2?: { introspectionUrl: string } } = {}) {}
  port = 0;
  private child: ChildProcess | undefined;
  private owner = uidOf('dovecot');

  async start(): Promise<this> {
    if (!existsSync('/usr/sbin/dovecot')) throw new Error('dovecot is not installed: npm test installs dovecot-imapd (apt-get) when run as root');
    if (this.port === 0) {
      this.port = await freePort();
      chmodSync(this.dir, 0o755); // Dovecot's unprivileged processes read the passwd file and maildirs here
      for (const d of ['run', 'state', 'mail', 'home']) mkdirSync(join(this.dir, d), { recursive: true });
      writeFileSync(join(this.dir, 'passwd'), `${IMAP_USER}:{PLAIN}${IMAP_PASS}::::::\n`);
      execFileSync('chown', ['-R', `${this.owner.uid}:${this.owner.gid}`, join(this.dir, 'mail'), join(this.dir, 'home')]);
      writeFileSync(join(this.dir, 'dovecot.conf'), `
base_dir = ${this.dir}/run
state_dir = ${this.dir}/state
log_path = ${this.dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login${this.opts.oauth2 ? ' xoauth2 oauthbearer\nauth_cache_size = 0' : ''}
default_internal_user = dovecot
default_login_user = dovenull
mail_location = maildir:${this.dir}/mail/%u
mail_uid = ${this.owner.uid}
mail_gid = ${this.owner.gid}
first_valid_uid = ${this.owner.uid}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${this.dir}/passwd${this.opts.oauth2 ? '\n  mechanisms = plain login' : ''}
}${this.opts.oauth2 ? `
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = ${this.dir}/dovecot-oauth2.conf.ext
}` : ''}
userdb {
  driver = static
  args = uid=${this.owner.uid} gid=${this.owner.gid} home=${this.dir}/home/%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${this.port}
  }
  inet_listener imaps {
    port = 0
  }
}
service stats {
  unix_listener stats-reader {
    mode = 0666
  }
  unix_listener stats-writer {
    mode = 0666
  }
}
`);
      if (this.opts.oauth2) {
        writeFileSync(join(this.dir, 'dovecot-oauth2.conf.ext'), [
          'introspection_mode = post', `introspection_url = ${this.opts.oauth2.introspectionUrl}`, 'force_introspection = yes',
          'username_attribute = username', 'active_attribute = active', 'active_value = true', 'timeout_msecs = 5000', '',
        ].join('\n'));
      }
    }
    this.child = spawn('/usr/sbin/dovecot', ['-F', '-c', join(this.dir, 'dovecot.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    this.child.stderr!.on('data', (d) => (err += d));
    for (let i = 0; i < 100; i++) {
      if (this.child.exitCode !== null) throw new Error(`dovecot exited: ${err}\n${this.log()}`);
      try {
        const c = this.client();
        await c.connect();
        await c.logout();
        return this;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    throw new Error(`dovecot did not come up: ${err}\n${this.log()}`);
  }

  log(): string {
    try { return readFileSync(join(this.dir, 'dovecot.log'), 'utf8'); } catch { return ''; }
  }

  /** Stops the server and waits for its master process to exit (the base dir is reused on restart). */
  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => { c.kill('SIGKILL'); }, 5000);
      c.once('exit', () => { clearTimeout(t); resolve(); });
      c.kill('SIGTERM');
    });
  }

  client(pass = IMAP_PASS): ImapFlow {
    return new ImapFlow({ host: '127.0.0.1', port: this.port, secure: false, auth: { user: IMAP_USER, pass }, logger: false, disableAutoIdle: true });
  }

  /** APPENDs raw messages to a mailbox (created when missing). */
  async append(mailbox: string, ...raws: Array<Buffer | string>): Promise<void> {
    const c = this.client();
    await c.connect();
    try {
      if (mailbox !== 'INBOX') await c.mailboxCreate(mailbox).catch(() => {});
      for (const raw of raws) await c.append(mailbox, raw);
    } finally {
      await c.logout();
    }
  }

  /** Message-IDs (from the headers) in a mailbox. */
  async messageIds(mailbox: string): Promise<string[]> {
    const c = this.client();
    await c.connect();
    try {
      const lock = await c.getMailboxLock(mailbox);
      try {
        const out: string[] = [];
        if ((c.mailbox as { exists: number }).exists === 0) return out;
        for await (const m of c.fetch('1:*', { envelope: true })) out.push(m.envelope?.messageId ?? '');
        return out;
      } finally { lock.release(); }
    } catch {
      return [];
    } finally {
      await c.logout();
    }
  }

  /** Ends the user's open IMAP sessions (doveadm kick), as a server does when it drops a client. */
  kick(user = IMAP_USER): void {
    execFileSync('doveadm', ['-c', join(this.dir, 'dovecot.conf'), 'kick', user], { stdio: 'pipe' });
  }

  /** Drops a message straight into the maildir, as a local delivery would while IMAP is down. */
  deliverToMaildir(raw: string, name: string): void {
    const dir = join(this.dir, 'mail', IMAP_USER, 'new');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${Date.now()}.${name}.test`);
    writeFileSync(file, raw);
    execFileSync('chown', ['-R', `${this.owner.uid}:${this.owner.gid}`, join(this.dir, 'mail')]);
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
