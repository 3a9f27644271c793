import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { snapshotTree } from '@meshguard/core/testing';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { encodeBase64, keyPairFromSeed, MeshguardError, PolicyError } from '@meshguard/core';
import { UsageError } from '../../src/cli/args.js';
import { serviceCommand } from '../../src/cli/commands/service.js';
import type { CliContext } from '../../src/cli/context.js';

function keyWhere(slash: boolean, start: number): string {
  for (let seed = start; ; seed++) {
    const s = new Uint8Array(32);
    new DataView(s.buffer).setUint32(0, seed);
    const text = encodeBase64(keyPairFromSeed(s).publicKey);
    if (text.includes('/') === slash) return text;
  }
}

const ALICE = keyWhere(false, 1);
const BOB = keyWhere(false, 100);
const ACME = keyWhere(false, 200);
const SLASHED = keyWhere(true, 300);

let dir = '';
let out: string[] = [];
let err: string[] = [];

function ctx(): CliContext {
  return {
    configDir: dir,
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    now: () => 1_700_000_000n,
    readStdin: () => new Uint8Array(0),
  };
}

function run(...args: string[]): string[] {
  out = [];
  serviceCommand(args, ctx());
  return out;
}

function put(rel: string, content: string): void {
  mkdirSync(dirname(join(dir, rel)), { recursive: true });
  writeFileSync(join(dir, rel), content);
}

const read = (rel: string): string => readFileSync(join(dir, rel), 'utf8');

const snapshot = (): Map<string, string> => snapshotTree(dir);

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'meshguard-service-cli-'));
  out = [];
  err = [];
  put('authorized_keys/alice.pub', `${ALICE}\n`);
  put('trusted_orgs/acme.org', `${ACME}\n`);
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('meshguard service allow|deny', () => {
  it('appends global, peer and org rules and reports the file written', () => {
    assert.deepEqual(run('allow', 'tcp', '22'), [
      `added "allow tcp 22" to ${join(dir, 'services', 'global.policy')} (1 rule)`,
    ]);
    run('deny', 'udp', '1000-2000');
    assert.equal(read('services/global.policy'), 'allow tcp 22\ndeny udp 1000-2000\n');

    assert.match(run('deny', '--peer', 'alice', 'all')[0]!, /"deny all" to .*services\/peer\/alice\.policy/);
    run('allow', `--peer=${ALICE}`, 'tcp', '443');
    assert.equal(read('services/peer/alice.policy'), 'deny all\nallow tcp 443\n');

    run('allow', '--org', 'acme', 'all', '0');
    assert.equal(read('services/org/acme.policy'), 'allow all\n');

    run('allow', '--peer', BOB, 'udp', '53');
    assert.equal(read(`services/peer/${BOB}.policy`), 'allow udp 53\n');
  });

  it('stores port 0 as all ports', () => {
    run('allow', 'tcp', '0');
    assert.equal(read('services/global.policy'), 'allow tcp all\n');
  });
});

describe('meshguard service default', () => {
  it('writes services/default', () => {
    assert.deepEqual(run('default', 'deny'), [`Default: deny (${join(dir, 'services', 'default')})`]);
    assert.equal(read('services/default'), 'deny\n');
  });
});

describe('meshguard service list', () => {
  it('says when there are no policies, without creating anything', () => {
    assert.deepEqual(run('list'), ['No service policies (no services/ directory): all traffic is allowed']);
    assert.equal(existsSync(join(dir, 'services')), false);
  });

  it('prints every scope with its rules, invalid files and problems', () => {
    run('default', 'deny');
    run('allow', 'tcp', '22');
    run('allow', '--peer', 'alice', 'udp', '53');
    run('deny', '--org', 'acme', 'tcp', '80-81');
    put(`services/peer/${BOB}.policy`, 'allow tcp 1\nallow sctp 2\n');
    put('services/peer/ghost.policy', 'allow all\n');
    const bob = [
      `Peer ${BOB} (services/peer/${BOB}.policy):`,
      '  INVALID, denies everything it is consulted for: line 2: invalid protocol "sctp" (expected tcp, udp or all)',
    ];
    const alice = [`Peer alice (${ALICE}) (services/peer/alice.policy):`, '  allow udp 53'];
    const lines = run('list');
    assert.deepEqual(lines, [
      'Default: deny',
      'Global (services/global.policy):',
      '  allow tcp 22',
      // Files are listed in file-name order.
      ...(`${BOB}.policy` < 'alice.policy' ? [...bob, ...alice] : [...alice, ...bob]),
      `Org acme (${ACME}) (services/org/acme.policy):`,
      '  deny tcp 80-81',
      'Problems (2):',
      `  services/peer/${BOB}.policy: line 2: invalid protocol "sctp" (expected tcp, udp or all)`,
      '  services/peer/ghost.policy: not loaded: not a base64 key and no authorized_keys/ghost.pub',
    ]);
  });

  it('shows the default as allow when the file is missing', () => {
    run('allow', 'all');
    assert.equal(run('list')[0], 'Default: allow (no services/default)');
  });
});

describe('meshguard service show', () => {
  it('summarises and decides a flow for a peer or org', () => {
    run('default', 'deny');
    run('allow', 'tcp', '80');
    run('allow', '--peer', 'alice', 'tcp', '22');
    run('deny', '--org', 'acme', 'tcp', '80');
    assert.deepEqual(run('show'), ['Default: deny', 'Global policy: yes', 'Peer policies: 1', 'Org policies: 1']);

    const peer = run('show', '--peer', 'alice', 'tcp', '22');
    assert.equal(peer[4], `Policy for peer "alice" (${ALICE}): services/peer/alice.policy (1 rule)`);
    assert.match(
      peer[5]!,
      /^tcp 22 from peer "alice" .*: allow \(peer-rule: "allow tcp 22" \(services\/peer\/alice\.policy line 1\)\)$/,
    );

    assert.match(run('show', '--peer', 'alice', 'tcp', '80').at(-1)!, /: allow \(global-rule: /);
    assert.match(run('show', '--peer', 'alice', '--org', 'acme', 'tcp', '80').at(-1)!, /: deny \(org-rule: /);
    assert.match(run('show', 'udp', '53').at(-1)!, /^udp 53 from a peer with no peer or org policy: deny \(default: /);
    assert.match(
      run('show', '--peer', BOB, 'tcp', '22').at(-1)!,
      new RegExp(`^tcp 22 from peer ${BOB.replace(/[+]/g, '\\+')}: deny`),
    );
  });

  it('reports "no policy" when services/ is missing', () => {
    assert.deepEqual(run('show', 'tcp', '22'), [
      'No service policies (no services/ directory): all traffic is allowed',
      'tcp 22 from a peer with no peer or org policy: allow (no-policy: no services/ directory)',
    ]);
  });

  it('shows the global policy as invalid', () => {
    put('services/global.policy', 'allow tcp 1-\n');
    assert.match(run('show')[1]!, /^Global policy: yes, INVALID: line 1: invalid port "1-"/);
    assert.match(run('show', 'tcp', '5').at(-3)!, /: deny \(invalid-policy: services\/global\.policy is invalid/);
  });
});

describe('meshguard service reset', () => {
  it('removes one scope, or everything', () => {
    run('allow', 'tcp', '22');
    run('allow', '--peer', 'alice', 'all');
    assert.deepEqual(run('reset', '--peer', 'alice'), [`removed ${join(dir, 'services', 'peer', 'alice.policy')}`]);
    assert.deepEqual(run('reset', '--peer', 'alice'), ['No policy file for that scope; nothing removed']);
    assert.deepEqual(run('reset', '--global'), [`removed ${join(dir, 'services', 'global.policy')}`]);
    assert.deepEqual(run('reset'), [`removed ${join(dir, 'services')}`]);
    assert.equal(existsSync(join(dir, 'services')), false);
    assert.deepEqual(run('reset'), ['No service policies; nothing removed']);
    assert.ok(existsSync(join(dir, 'authorized_keys', 'alice.pub')));
  });
});

describe('meshguard service: bad input changes nothing', () => {
  const bad: Array<[string[], new (...args: never[]) => Error]> = [
    [[], UsageError],
    [['bogus'], UsageError],
    [['allow'], UsageError],
    [['allow', 'tcp'], UsageError],
    [['allow', 'tcp', '65536'], UsageError],
    [['allow', 'tcp', '+22'], UsageError],
    [['allow', 'tcp', '2000-1000'], UsageError],
    [['allow', 'tcp', '22', 'extra'], UsageError],
    [['allow', 'tcp 22'], UsageError],
    [['deny', 'icmp', '1'], UsageError],
    [['allow', '--bogus', 'all'], UsageError],
    [['allow', '--peer', 'alice', '--org', 'acme', 'all'], UsageError],
    [['allow', '--peer', 'nobody', 'tcp', '22'], MeshguardError],
    [['allow', '--peer', '../trusted_orgs/acme', 'tcp', '22'], MeshguardError],
    [['allow', '--org', 'alice', 'all'], MeshguardError],
    [['allow', '--peer', SLASHED, 'all'], MeshguardError],
    [['allow', '--peer', 'bad', 'all'], PolicyError],
    [['allow', 'all'], PolicyError],
    [['default'], UsageError],
    [['default', 'maybe'], UsageError],
    [['default', 'allow', 'deny'], UsageError],
    [['list', 'extra'], UsageError],
    [['show', 'tcp'], UsageError],
    [['show', 'icmp', '1'], UsageError],
    [['show', 'tcp', '70000'], UsageError],
    [['show', '--peer', 'nobody'], MeshguardError],
    [['reset', 'extra'], UsageError],
    [['reset', '--peer', 'nobody'], MeshguardError],
    [['reset', '--peer', 'alice', '--global'], UsageError],
  ];

  it('leaves the config dir byte-for-byte unchanged', () => {
    put('services/global.policy', 'allow tcp 22\n'.repeat(64));
    put('services/default', 'deny\n');
    put('authorized_keys/bad.pub', `${BOB}\n`);
    put('services/peer/bad.policy', 'allow everything\n');
    const before = snapshot();
    for (const [args, type] of bad) {
      out = [];
      assert.throws(
        () => {
          serviceCommand(args, ctx());
        },
        type,
        args.join(' '),
      );
      assert.deepEqual(out, [], args.join(' '));
      assert.deepEqual(snapshot(), before, args.join(' '));
    }
    assert.deepEqual(err, []);
  });

  it('creates no services/ directory on a refused first command', () => {
    const before = snapshot();
    for (const args of [
      ['allow', '--peer', 'nobody', 'all'],
      ['allow', 'tcp', 'x'],
      ['default', 'nope'],
    ]) {
      assert.throws(() => {
        serviceCommand(args, ctx());
      }, MeshguardError);
    }
    assert.deepEqual(snapshot(), before);
  });
});
