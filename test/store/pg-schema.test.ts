import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { migrations } from '../../src/store/migrations/index.js';
import { postgresMigrations, postgresOnly } from '../../src/store/migrations/postgres.js';
import { openPostgres, type PgSql } from '../../src/store/sql-postgres.js';
import { migratePostgres } from '../../src/store/migrate-postgres.js';
import { createTestDatabase, stopTestCluster } from '../helpers/postgres.js';

interface Column { name: string; family: string; notNull: boolean; hasDefault: boolean }

/** INTEGER and BIGINT are one family (SQLite's INTEGER is 64-bit); BLOB is BYTEA. */
function family(type: string): string {
  const t = type.toUpperCase();
  if (/INT/.test(t)) return 'integer';
  if (t === 'BLOB' || t === 'BYTEA') return 'bytes';
  if (t === 'TEXT') return 'text';
  return t;
}

/** The SQLite schema after every SQLite migration, applied straight from the list. */
function sqliteSchema(): Map<string, Column[]> {
  const db = new Database(':memory:');
  try {
    for (const m of migrations) db.exec(m.sql);
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all() as string[];
    const out = new Map<string, Column[]>();
    for (const t of tables) {
      const cols = db.prepare(`PRAGMA table_info(${t})`).all() as Array<{ name: string; type: string; notnull: number; dflt_value: unknown; pk: number }>;
      out.set(t, cols.map((c) => ({ name: c.name, family: family(c.type), notNull: c.notnull === 1 || c.pk > 0, hasDefault: c.dflt_value !== null })));
    }
    return out;
  } finally {
    db.close();
  }
}

function sqliteIndexes(): string[] {
  const db = new Database(':memory:');
  try {
    for (const m of migrations) db.exec(m.sql);
    return db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name").pluck().all() as string[];
  } finally {
    db.close();
  }
}

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let sql: PgSql;
const pgColumns = new Map<string, Column[]>();
before(async () => {
  db = await createTestDatabase();
  sql = await openPostgres(db.url);
  await migratePostgres(sql);
  const rows = await sql.all<{ table_name: string; column_name: string; data_type: string; is_nullable: string; column_default: string | null; is_identity: string }>(
    "SELECT table_name, column_name, data_type, is_nullable, column_default, is_identity FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position");
  for (const r of rows) {
    const list = pgColumns.get(r.table_name) ?? [];
    list.push({ name: r.column_name, family: family(r.data_type), notNull: r.is_nullable === 'NO', hasDefault: r.column_default !== null });
    pgColumns.set(r.table_name, list);
  }
});
after(async () => {
  await sql?.close();
  await db?.drop();
  await stopTestCluster();
});

describe('the PostgreSQL schema matches SQLite after migration 8', () => {
  it('starts at the version of the last SQLite migration it reproduces', () => {
    assert.equal(postgresMigrations[0]!.version, 8);
    assert.deepEqual(migrations.filter((m) => m.version > 8).map((m) => m.version), postgresMigrations.slice(1).map((m) => m.version),
      'every later SQLite migration has its PostgreSQL twin with the same number');
  });

  it('every SQLite table has the same columns, with the same type family and NOT NULL', () => {
    const lite = sqliteSchema();
    for (const [table, cols] of lite) {
      if (postgresOnly.omitted[table]) continue;
      const pgCols = pgColumns.get(table);
      assert.ok(pgCols, `table ${table} is missing on PostgreSQL`);
      const extra = postgresOnly.columns[table] ?? [];
      assert.deepEqual(pgCols.map((c) => c.name).filter((n) => !extra.includes(n)).sort(), cols.map((c) => c.name).sort(), `columns of ${table}`);
      for (const c of cols) {
        const p: Column = pgCols.find((x) => x.name === c.name)!;
        assert.equal(p.family, c.family, `${table}.${c.name} type`);
        assert.equal(p.notNull, c.notNull, `${table}.${c.name} NOT NULL`);
        // An identity id has no column default on PostgreSQL; SQLite's rowid alias none either.
        assert.equal(p.hasDefault, c.hasDefault, `${table}.${c.name} default`);
      }
    }
  });

  it('tables only PostgreSQL has are the documented ones (plus schema_migrations)', () => {
    const lite = sqliteSchema();
    const only = [...pgColumns.keys()].filter((t) => !lite.has(t)).sort();
    assert.deepEqual(only, [...postgresOnly.tables, 'schema_migrations'].sort());
    assert.deepEqual(pgColumns.get('schema_migrations')!.map((c) => c.name), ['version', 'name', 'applied_at']);
  });

  it('the same indexes exist, the partial one partial', async () => {
    const names = await sql.column<string>("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'");
    const omittedIndexes = sqliteIndexes().filter((i) => Object.keys(postgresOnly.omitted).some((t) => i.startsWith(t)));
    for (const i of sqliteIndexes()) if (!omittedIndexes.includes(i)) assert.ok(names.includes(i), `index ${i}`);
    const def = await sql.value<string>("SELECT indexdef FROM pg_indexes WHERE indexname = 'outbox_claimed'");
    assert.match(def ?? '', /WHERE \(claimed_by IS NOT NULL\)/);
  });

  it('a table left out is read and written by nothing in src/', () => {
    const files: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (p.endsWith('.ts') && !p.startsWith(join('src', 'store', 'migrations'))) files.push(p);
      }
    };
    walk('src');
    for (const table of Object.keys(postgresOnly.omitted)) {
      // Comments may name it (copy-store says why it skips it); code may not.
      const code = (f: string): string => readFileSync(f, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
      const users = files.filter((f) => code(f).includes(table));
      assert.deepEqual(users, [], `${table} is used`);
    }
  });
});
