import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { parseConfigText } from '../../src/config/index.js';
import { parseDuration, parseSize } from '../../src/shared/units.js';
import { baseConfig } from '../helpers/env.js';

// Not helpers/daemon.ts: this test needs only the built CLI, not the whole app in-process.
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SHIPPED = join(ROOT, 'config/deskgate.schema.json');
const EXAMPLE = join(ROOT, 'config/deskgate.example.yaml');

/** A config with every optional key set, which zod accepts: the schema must accept it too. */
function fullConfig(): Record<string, unknown> {
  return {
    ...baseConfig(),
    base_url: 'https://help.acme.test',
    smtp: {
      listen: [{ host: '0.0.0.0', port: 25 }], hostname: 'mx.acme.test', max_message_size: 10485760,
      tls: { key: '/etc/deskgate/key.pem', cert: '/etc/deskgate/cert.pem' }, socket_timeout: 90,
      max_header_size: '128kb', client_allowlist: ['10.0.0.0/8'], client_denylist: ['192.0.2.7'], close_timeout: '1500ms',
    },
    outbound: {
      smtp: { host: 'smtp.acme.test', port: 587, secure: false, auth: { user: 'deskgate', pass: 'x' } },
      retry_for: '2d', retry_initial: '1m', retry_max: '1h',
      dkim: { domain: 'acme.test', selector: 'dg', private_key: '/etc/deskgate/dkim.pem' },
    },
    imap: [{ host: 'imap.acme.test', user: 'support@acme.test', pass: 'x', processed_mailbox: 'Processed', poll_interval: '60s', address: 'support@acme.test' }],
    triggers: { defaults: true, items: [
      { id: 'notify-all-agents-received', active: true },
      { id: 'vip-to-billing', name: 'VIP tickets go to Billing',
        conditions: { all: [{ field: 'is', value: 'created' }, { field: 'requester_domain', value: 'bigcustomer.test' }] },
        actions: [{ set_group: 'Billing' }, { add_tags: ['vip'] }] },
    ] },
    automations: [{ id: 'close-solved', name: 'Close solved', conditions: { all: [{ field: 'status', value: 'solved' }, { field: 'hours_since_solved', op: 'gte', value: 96 }] }, actions: [{ set_status: 'closed' }] }],
    automations_interval: '30m',
    metrics: { listen: '127.0.0.1:9464' },
  };
}

function errorsOf(validate: ValidateFunction, data: unknown): string {
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`).join('\n');
}

describe('deskgate config schema: the config as JSON Schema (draft 2020-12)', () => {
  let text: string;
  let validate: ValidateFunction;

  before(() => {
    // Run from elsewhere with no config around: the command must not need one.
    text = execFileSync(process.execPath, [join(ROOT, 'dist/main.js'), 'config', 'schema'], { cwd: '/', encoding: 'utf8', timeout: 30_000, env: { ...process.env, DESKGATE_CONFIG: '/nonexistent.yaml' } });
    // strict: an unknown keyword or a contradictory schema is an error, not a silent pass.
    validate = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true, validateFormats: false }).compile(JSON.parse(text) as object);
  });

  it('prints JSON Schema draft 2020-12 without needing a config file', () => {
    const schema = JSON.parse(text) as Record<string, unknown>;
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.equal(schema.type, 'object');
    assert.deepEqual(schema.required, ['support_addresses']);
    assert.equal(schema.additionalProperties, false, 'strict objects stay closed');
  });

  it('config/deskgate.schema.json is the command output, byte for byte', () => {
    assert.ok(readFileSync(SHIPPED, 'utf8') === text, 'config/deskgate.schema.json is stale: run npm run schema');
  });

  it('the example config names the schema on its first line for editors', () => {
    assert.equal(readFileSync(EXAMPLE, 'utf8').split('\n')[0], '# yaml-language-server: $schema=./deskgate.schema.json');
  });

  it('the example config is valid against the schema, as written (units, ${VAR})', () => {
    const example = parse(readFileSync(EXAMPLE, 'utf8')) as unknown;
    assert.ok(validate(example), errorsOf(validate, example));
  });

  it('the golden fixtures\' config, which names the schema too, is valid', () => {
    const golden = parse(readFileSync(join(ROOT, 'test/fixtures/golden/config.yaml'), 'utf8')) as unknown;
    assert.ok(validate(golden), errorsOf(validate, golden));
  });

  it('a config with every optional key that zod accepts is valid too', () => {
    const full = fullConfig();
    parseConfigText(JSON.stringify(full), '/etc/deskgate/deskgate.yaml', {});
    assert.ok(validate(full), errorsOf(validate, full));
    assert.ok(validate(baseConfig()), errorsOf(validate, baseConfig()));
  });

  const bad: Array<[string, (c: Record<string, any>) => void, string]> = [
    ['an unknown top-level key', (c) => { c.smpt = {}; }, 'additionalProperties'],
    ['an unknown nested key', (c) => { c.smtp.max_clientz = 5; }, 'additionalProperties'],
    ['an unknown key in a list item', (c) => { c.agents[0].rol = 'admin'; }, 'additionalProperties'],
    ['a wrong type', (c) => { c.smtp.max_clients = 'many'; }, 'type'],
    ['a port out of range', (c) => { c.smtp.listen = [{ port: 70000 }]; }, 'maximum'],
    ['a role that does not exist', (c) => { c.agents[0].role = 'boss'; }, 'enum'],
    ['a duration that is not one', (c) => { c.smtp.socket_timeout = 'soon'; }, 'pattern'],
    ['a size that is not one', (c) => { c.smtp.max_message_size = 'huge'; }, 'pattern'],
    ['no support address', (c) => { delete c.support_addresses; }, 'required'],
    ['an empty support address list', (c) => { c.support_addresses = []; }, 'minItems'],
    ['a trigger action that does not exist', (c) => { c.triggers = [{ id: 'x', name: 'x', conditions: {}, actions: [{ explode: true }] }]; }, 'anyOf'],
  ];
  for (const [what, mutate, keyword] of bad) {
    it(`rejects ${what} (as zod does)`, () => {
      const c = fullConfig() as Record<string, any>;
      mutate(c);
      assert.throws(() => parseConfigText(JSON.stringify(c), '/etc/deskgate/deskgate.yaml', {}), 'zod refuses it too');
      assert.equal(validate(c), false, `${what} passed the schema`);
      assert.ok(validate.errors!.some((e) => e.keyword === keyword), errorsOf(validate, c));
    });
  }

  it('duration and size patterns accept exactly what the config parser accepts', () => {
    const schema = JSON.parse(text) as any;
    const patternOf = (node: any) => new RegExp(node.anyOf.find((a: any) => a.type === 'string').pattern);
    const duration = patternOf(schema.properties.smtp.properties.socket_timeout);
    const size = patternOf(schema.properties.smtp.properties.max_message_size);
    const samples = ['30s', '5m', '1h', '2d', '250ms', '1.5h', ' 10 S ', '90', 'MS', '25MB', '512kb', '1G', '1 gb', '64K', '100b', '0',
      'soon', '', '1w', '5 minutes', '-1s', '1e3', 'mb', '1.2.3', '25MiB', '1KBB', 'h1'];
    for (const s of samples) {
      assert.equal(duration.test(s), parseDuration(s) !== undefined, `duration ${JSON.stringify(s)}`);
      assert.equal(size.test(s), parseSize(s) !== undefined, `size ${JSON.stringify(s)}`);
    }
  });
});
