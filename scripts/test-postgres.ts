/**
 * Runs test files on the PostgreSQL backend: starts one throwaway cluster (test/helpers/postgres.ts),
 * points DESKGATE_TEST_BACKEND/DESKGATE_TEST_DATABASE_URL at it (makeEnv then gives every env a
 * fresh database), runs `node --test` on the files given, and tears the cluster down.
 * Usage: node --import tsx scripts/test-postgres.ts FILE...
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { PgCluster, postgresBinDir } from '../test/helpers/postgres.js';

const files = process.argv.slice(2);
const external = process.env.DESKGATE_TEST_DATABASE_URL;
const cluster = external ? undefined : await new PgCluster().start();
const url = external ?? cluster!.adminUrl;
let code = 1;
try {
  console.log(`# PostgreSQL backend: ${files.length} test files on ${url.replace(/\/\/[^@]*@/, '//')}`);
  const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=300000', ...files], {
    stdio: 'inherit',
    env: { ...process.env, DESKGATE_TEST_BACKEND: 'postgres', DESKGATE_TEST_DATABASE_URL: url, DESKGATE_TEST_PSQL: join(postgresBinDir(), 'psql') },
  });
  code = await new Promise<number>((resolve) => child.on('exit', (c, sig) => resolve(c ?? (sig ? 1 : 0))));
} finally {
  cluster?.stopSync();
}
process.exit(code);
