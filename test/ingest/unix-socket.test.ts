import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { prepareSocketPath, applySocketAccess } from '../../src/ingest/unix-socket.js';
import { DeskgateError } from '../../src/shared/errors.js';

/** R73: the LMTP socket's path and access, on a real file system. */
describe('LMTP socket path and access (R73)', () => {
  const withDir = async (fn: (dir: string) => Promise<void>) => {
    const dir = mkdtempSync(join(tmpdir(), 'dg-sock-'));
    try { await fn(dir); } finally { rmSync(dir, { recursive: true, force: true }); }
  };
  const listen = (path: string) => new Promise<ReturnType<typeof createServer>>((resolve) => { const s = createServer(); s.listen(path, () => resolve(s)); });
  const isListenError = (re: RegExp) => (err: unknown) => err instanceof DeskgateError && err.code === 'INGEST_LISTEN' && re.test(err.message);

  it('creates a missing directory for the socket', () => withDir(async (dir) => {
    const path = join(dir, 'run', 'deskgate', 'lmtp.sock');
    await prepareSocketPath(path);
    assert.ok(statSync(join(dir, 'run', 'deskgate')).isDirectory());
  }));

  it('removes a socket left by a process that died, so the next start can listen', () => withDir(async (dir) => {
    const path = join(dir, 'lmtp.sock');
    // A process that dies leaves its socket file behind (only a clean close unlinks it).
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
    child.kill('SIGKILL');
    await new Promise<void>((resolve) => child.once('exit', () => resolve()));
    assert.ok(existsSync(path), 'a stale socket file is there');
    await prepareSocketPath(path);
    assert.equal(existsSync(path), false);
  }));

  it('refuses a path where another process listens, and a path that is not a socket', () => withDir(async (dir) => {
    const live = join(dir, 'live.sock');
    const s = await listen(live);
    try {
      await assert.rejects(prepareSocketPath(live), isListenError(/another process listens on/));
      assert.ok(existsSync(live), 'the live socket is left alone');
    } finally {
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
    const file = join(dir, 'config.yaml');
    writeFileSync(file, 'not a socket');
    await assert.rejects(prepareSocketPath(file), isListenError(/is not a socket/));
    assert.equal(readFileSync(file, 'utf8'), 'not a socket', 'never removed');
  }));

  it('sets the mode, and owner and group by name or id', () => withDir(async (dir) => {
    const path = join(dir, 'lmtp.sock');
    const s = await listen(path);
    try {
      await applySocketAccess({ path, mode: '0640' });
      assert.equal(statSync(path).mode & 0o777, 0o640);
      if (userInfo().uid === 0) {
        const nobody = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('nobody:'))!.split(':');
        await applySocketAccess({ path, mode: '660', owner: 'nobody', group: '0' });
        const st = statSync(path);
        assert.deepEqual([st.mode & 0o777, st.uid, st.gid], [0o660, Number(nobody[2]), 0]);
      }
      await assert.rejects(applySocketAccess({ path, mode: '0660', owner: 'no-such-user-here' }), isListenError(/no user "no-such-user-here" in \/etc\/passwd/));
    } finally {
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  }));
});
