import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { makeEnv, waitFor, type TestEnv } from '../helpers/env.js';
import { CLI, spawnServe, waitExit } from '../helpers/daemon.js';

const hasScript = spawnSync('script', ['--version']).status === 0;
// eslint-disable-next-line no-control-regex
const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');
const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** `deskgate serve` on a pseudo-terminal (util-linux script): what a person running it sees. */
async function serveOnTerminal(env: TestEnv): Promise<string> {
  const childEnv = { ...process.env };
  for (const k of ['JOURNAL_STREAM', 'INVOCATION_ID', 'container']) delete childEnv[k];
  const cmd = `${shellQuote(process.execPath)} ${shellQuote(CLI)} serve -c ${shellQuote(env.configPath)}`;
  const child = spawn('script', ['-qec', cmd, '/dev/null'], { detached: true, env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  try {
    await waitFor(() => /deskgate ready/.test(out), 'serve to be ready on the terminal', 20_000);
  } finally {
    process.kill(-child.pid!, 'SIGTERM'); // the group script made: script, the shell and serve
    await waitExit(child).catch(() => process.kill(-child.pid!, 'SIGKILL'));
  }
  return stripAnsi(out);
}

function envWith(format: string): TestEnv {
  return makeEnv((c) => { c.log = { level: 'info', format }; });
}

const HUMAN = /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] INFO: deskgate ready/m;

describe('serve logs a person can read (issue 12)', { skip: hasScript ? false : 'util-linux script is not installed' }, () => {
  const envs: TestEnv[] = [];
  after(() => { for (const e of envs) e.cleanup(); });

  it('log.format: pretty on a terminal prints human lines, not JSON', async () => {
    const env = envWith('pretty');
    envs.push(env);
    const out = await serveOnTerminal(env);
    assert.match(out, HUMAN);
    assert.doesNotMatch(out, /^\{"level"/m);
  });

  it('log.format: auto on a terminal is human, except in a container (Docker here gives JSON)', async () => {
    const env = envWith('auto');
    envs.push(env);
    const out = await serveOnTerminal(env);
    if (existsSync('/.dockerenv')) assert.match(out, /^\{"level":30,.*"msg":"deskgate ready"/m);
    else assert.match(out, HUMAN);
  });

  it('log.format: auto piped prints JSON lines', async () => {
    const env = envWith('auto');
    envs.push(env);
    const { child, logs } = await spawnServe(env.configPath);
    child.kill('SIGTERM');
    assert.equal(await waitExit(child), 0);
    const lines = logs().trim().split('\n').map((l) => JSON.parse(l) as { event?: string });
    assert.ok(lines.some((l) => l.event === 'serve:ready'));
  });
});
