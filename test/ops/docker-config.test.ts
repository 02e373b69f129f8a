import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { loadConfig, parseConfigText } from '../../src/config/index.js';
import { runCli, startTestDaemon, ROOT } from '../helpers/daemon.js';

// No image can be built here (no container registry), so the test reads the Dockerfile and
// runs the image's own config and its HEALTHCHECK command the way the container would.
const DOCKER_CONFIG = join(ROOT, 'config/deskgate.docker.yaml');
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const ENV = { DESKGATE_SUPPORT_ADDRESS: 'support@acme.test' };

/** The Dockerfile's HEALTHCHECK CMD as an argv array (exec form). */
function healthcheckArgv(): string[] {
  const m = /^HEALTHCHECK .*? CMD (\[.*\])$/m.exec(dockerfile.replace(/\\\n\s*/g, ' '));
  assert.ok(m, 'HEALTHCHECK … CMD [exec form]');
  return JSON.parse(m[1]!) as string[];
}
const healthUrl = (): URL => new URL(/fetch\('([^']+)'\)/.exec(healthcheckArgv().join(' '))![1]!);

describe('the Docker image config (config/deskgate.docker.yaml)', () => {
  it('check-config accepts it and resolves data to the /var/lib/deskgate volume, SMTP on 0.0.0.0', async () => {
    const r = await runCli(['check-config', '-c', DOCKER_CONFIG, '--json'], { env: ENV });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const out = JSON.parse(r.stdout) as { ok: boolean; data_dir: string; smtp: unknown; support_addresses: string[] };
    assert.equal(out.ok, true);
    assert.equal(out.data_dir, '/var/lib/deskgate');
    assert.deepEqual(out.smtp, [{ host: '0.0.0.0', port: 2525 }]);
    assert.deepEqual(out.support_addresses, ['support@acme.test']);
  });

  it('without DESKGATE_SUPPORT_ADDRESS check-config exits 78 naming the variable and its line', async () => {
    const r = await runCli(['check-config', '-c', DOCKER_CONFIG], { env: { DESKGATE_SUPPORT_ADDRESS: undefined } });
    assert.equal(r.code, 78, r.stdout + r.stderr);
    assert.match(r.stderr, /deskgate\.docker\.yaml:\d+: support_addresses\[0\]\.address: environment variable DESKGATE_SUPPORT_ADDRESS is not set/);
  });

  it('turns metrics on where the HEALTHCHECK polls them', async () => {
    const config = loadConfig(DOCKER_CONFIG, ENV);
    assert.ok(config.metrics, 'metrics.listen is set');
    const url = healthUrl();
    assert.equal(url.pathname, '/healthz');
    const at = config.metrics.listen.lastIndexOf(':');
    assert.equal(Number(config.metrics.listen.slice(at + 1)), Number(url.port), 'same port');
    // Inside the container the check connects to loopback: the listener must include it.
    assert.ok(['0.0.0.0', '127.0.0.1'].includes(config.metrics.listen.slice(0, at)), config.metrics.listen);
    assert.equal(url.hostname, '127.0.0.1');
  });

  it('the Dockerfile bakes that config where DESKGATE_CONFIG points, and declares and owns the data volume', async () => {
    const cfgPath = /^ENV .*DESKGATE_CONFIG=(\S+)/m.exec(dockerfile)?.[1];
    assert.equal(cfgPath, '/etc/deskgate/deskgate.yaml');
    assert.ok(dockerfile.split('\n').includes(`COPY config/deskgate.docker.yaml ${cfgPath}`), 'COPY of the image config');
    assert.match(dockerfile, /^VOLUME \["\/var\/lib\/deskgate"\]$/m);
    assert.match(dockerfile, /chown deskgate:deskgate \/var\/lib\/deskgate/);
    const exposed = /^EXPOSE (.+)$/m.exec(dockerfile)?.[1]?.split(/\s+/).map(Number);
    assert.deepEqual(exposed, [2525, Number(healthUrl().port)]);
  });

  it('docker-compose.example.yml mounts the volume at data_dir and publishes the SMTP and metrics ports', async () => {
    const compose = parse(readFileSync(join(ROOT, 'docker-compose.example.yml'), 'utf8')) as { services: { deskgate: { volumes: string[]; ports: string[]; environment: Record<string, string> } } };
    const svc = compose.services.deskgate;
    assert.ok(svc.volumes.some((v) => v.split(':')[1] === '/var/lib/deskgate'), svc.volumes.join(', '));
    assert.deepEqual(svc.ports.map((p) => p.split(':').at(-1)), ['2525', healthUrl().port]);
    assert.ok('DESKGATE_SUPPORT_ADDRESS' in svc.environment);
  });

  it('the HEALTHCHECK command exits 0 against a daemon serving that config and 1 once it is gone', async () => {
    // The image's config with only what cannot run here changed: a temp data_dir, port 0.
    const dir = mkdtempSync(join(tmpdir(), 'dg-docker-'));
    const raw = parse(readFileSync(DOCKER_CONFIG, 'utf8')) as Record<string, any>;
    raw.data_dir = dir;
    raw.smtp = { ...raw.smtp, listen: [{ host: '127.0.0.1', port: 0 }], reverse_lookup: false };
    raw.metrics = { listen: '127.0.0.1:0' };
    const config = parseConfigText(stringify(raw), join(dir, 'deskgate.yaml'), ENV);
    const d = await startTestDaemon({ dir, configPath: '', config, cleanup: () => {} });
    const [cmd, ...args] = healthcheckArgv();
    assert.equal(cmd, 'node');
    // Asynchronously: the daemon answering it runs in this process's event loop.
    const run = () => new Promise<number | null>((resolve, reject) => {
      const child = spawn(process.execPath, args.map((a) => a.replace(healthUrl().origin, `http://127.0.0.1:${d.metricsPort}`)), { stdio: 'ignore', timeout: 10_000 });
      child.on('error', reject).on('exit', (code) => resolve(code));
    });
    try {
      try {
        assert.equal(await run(), 0);
      } finally {
        await d.stop();
      }
      assert.equal(await run(), 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the Docker build stage', () => {
  it('builds dist/ and the inject bundle from exactly the files it COPYs (npm ci runs npm run build)', async () => {
    const stage = dockerfile.split(/^FROM /m)[1]!;
    const copies = [...stage.matchAll(/^COPY (?!--)(.+)$/gm)].map((m) => m[1]!.trim().split(/\s+/));
    assert.ok(copies.length > 0);
    const dir = mkdtempSync(join(tmpdir(), 'dg-docker-build-'));
    try {
      // COPY a b c ./ copies each into the directory; COPY src ./dest copies one to dest.
      for (const args of copies) {
        const dest = args.at(-1)!;
        for (const src of args.slice(0, -1)) cpSync(join(ROOT, src), dest.endsWith('/') && args.length > 2 ? join(dir, dest, basename(src)) : join(dir, dest), { recursive: true });
      }
      symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules')); // what npm ci installs
      const code = await new Promise<number | null>((resolve) => {
        const child = spawn('npm', ['run', 'build', '--silent'], { cwd: dir, stdio: ['ignore', 'inherit', 'inherit'] });
        child.on('exit', resolve);
      });
      assert.equal(code, 0, 'npm run build in the build stage');
      for (const built of ['dist/main.js', 'dist/bundle/inject.cjs', 'dist/bundle/inject.cjs.cache']) assert.ok(existsSync(join(dir, built)), built);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
