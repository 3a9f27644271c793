import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { keyPairFromSeed } from '../../src/crypto/ed25519.js';
import { encodeBase64 } from '../../src/encoding/base64.js';
import { toHex } from '../../src/encoding/hex.js';
import { ArgumentError, PolicyError } from '../../src/errors.js';
import { requireCapability, snapshotTree } from '../../src/testing/index.js';
import {
  appendServiceRule,
  evaluatePolicy,
  loadServicePolicy,
  MAX_ORG_POLICIES,
  MAX_PEER_POLICIES,
  parseServiceRule,
  resetServicePolicy,
  resolveServiceSubject,
  serviceSubjectFile,
  setServiceDefault,
  type ServicePolicy,
  type ServicePolicyFile,
} from '../../src/policy/index.js';

/** Deterministic keys, split by whether their base64 form can be a file name. */
function keys(count: number, withSlash: boolean, start = 1): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let seed = start; out.length < count; seed++) {
    const s = new Uint8Array(32);
    new DataView(s.buffer).setUint32(0, seed);
    const pub = keyPairFromSeed(s).publicKey;
    if (encodeBase64(pub).includes('/') === withSlash) out.push(pub);
  }
  return out;
}

const [ALICE, BOB, CAROL, ORG_A] = keys(4, false);
const [SLASHED] = keys(1, true);
const b64 = (k: Uint8Array | undefined): string => encodeBase64(k!);

let dir = '';

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'meshguard-policy-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function put(rel: string, content: string | Uint8Array): void {
  mkdirSync(dirname(join(dir, rel)), { recursive: true });
  writeFileSync(join(dir, rel), content);
}

function read(rel: string): string {
  return readFileSync(join(dir, rel), 'utf8');
}

function trustPeer(name: string, key: Uint8Array | undefined): void {
  put(`authorized_keys/${name}.pub`, `${b64(key)}\n`);
}

function trustOrg(name: string, key: Uint8Array | undefined): void {
  put(`trusted_orgs/${name}.org`, `${b64(key)}\n`);
}

function configured(p: ServicePolicy): Extract<ServicePolicy, { kind: 'configured' }> {
  assert.equal(p.kind, 'configured');
  return p;
}

function ruleLines(file: ServicePolicyFile | undefined): string[] | string {
  assert.ok(file !== undefined);
  if (file.kind === 'invalid') return `invalid: ${file.error}`;
  return file.rules.map((r) => `${r.action} ${r.proto}`);
}

const snapshot = (): Map<string, string> => snapshotTree(dir);

describe('loadServicePolicy', () => {
  it('reports no policy when services/ is missing, and creates nothing', () => {
    const loaded = loadServicePolicy(dir);
    assert.equal(loaded.policy.kind, 'none');
    assert.deepEqual(loaded.problems, []);
    assert.deepEqual(readdirSync(dir), []);
  });

  it('defaults to allow in an empty services/ directory', () => {
    mkdirSync(join(dir, 'services'));
    const p = configured(loadServicePolicy(dir).policy);
    assert.deepEqual(p.defaultAction, { kind: 'action', action: 'allow', explicit: false });
    assert.equal(p.global, undefined);
    assert.equal(p.peers.size + p.orgs.size, 0);
  });

  it('reads services/default strictly', () => {
    const cases: Array<[string, string]> = [
      ['deny\n', 'deny'],
      ['  allow \r\n', 'allow'],
      ['\tdeny', 'deny'],
      ['DENY\n', 'invalid'],
      ['', 'invalid'],
      ['deny all\n', 'invalid'],
    ];
    for (const [content, expected] of cases) {
      put('services/default', content);
      const loaded = loadServicePolicy(dir);
      const d = configured(loaded.policy).defaultAction;
      assert.equal(d.kind === 'invalid' ? 'invalid' : d.action, expected, JSON.stringify(content));
      assert.equal(loaded.problems.length, expected === 'invalid' ? 1 : 0);
    }
  });

  it('loads global.policy, keeping an invalid one as invalid', () => {
    put('services/global.policy', 'allow tcp 22\ndeny all\n');
    assert.deepEqual(ruleLines(configured(loadServicePolicy(dir).policy).global), ['allow tcp', 'deny all']);
    put('services/global.policy', 'allow tcp 22\nallow tcp 70000\n');
    const loaded = loadServicePolicy(dir);
    assert.match(String(ruleLines(configured(loaded.policy).global)), /line 2: invalid port/);
    assert.match(loaded.problems.join('\n'), /services\/global\.policy: line 2/);
  });

  it('refuses files over 4096 bytes and accepts exactly 4096', () => {
    put('services/global.policy', `${'#'.repeat(4095)}\n`);
    assert.deepEqual(ruleLines(configured(loadServicePolicy(dir).policy).global), []);
    put('services/global.policy', `${'#'.repeat(4096)}\n`);
    assert.match(String(ruleLines(configured(loadServicePolicy(dir).policy).global)), /larger than 4096/);
  });

  it('resolves peer files by authorized_keys alias and by base64 key', () => {
    trustPeer('alice', ALICE);
    put('services/peer/alice.policy', 'allow tcp 22\n');
    put(`services/peer/${b64(BOB)}.policy`, 'deny udp 53\n');
    put('services/peer/README', 'not a policy');
    const loaded = loadServicePolicy(dir);
    const p = configured(loaded.policy);
    assert.deepEqual(loaded.problems, []);
    assert.deepEqual(ruleLines(p.peers.get(toHex(ALICE!))), ['allow tcp']);
    assert.deepEqual(ruleLines(p.peers.get(toHex(BOB!))), ['deny udp']);
    assert.equal(p.peers.get(toHex(ALICE!))?.source, join('services', 'peer', 'alice.policy'));
    assert.equal(evaluatePolicy(loaded.policy, tcp(22), ALICE!, undefined).reason, 'peer-rule');
  });

  it('reports unresolvable peer files without loading them', () => {
    put('services/peer/nobody.policy', 'allow all\n');
    put('authorized_keys/broken.pub', 'not a key\n');
    put('services/peer/broken.policy', 'allow all\n');
    put(`services/peer/${b64(BOB).slice(0, 43)}x.policy`, 'allow all\n');
    const loaded = loadServicePolicy(dir);
    assert.equal(configured(loaded.policy).peers.size, 0);
    assert.equal(loaded.problems.length, 3);
    assert.match(
      loaded.problems.join('\n'),
      /nobody\.policy: not loaded: not a base64 key and no authorized_keys\/nobody\.pub/,
    );
    assert.match(loaded.problems.join('\n'), /broken\.policy: not loaded: authorized_keys\/broken\.pub/);
  });

  it('resolves org files through trusted_orgs and applies them only to that org', () => {
    trustOrg('acme', ORG_A);
    put('services/org/acme.policy', 'deny tcp 22\n');
    const loaded = loadServicePolicy(dir);
    const p = configured(loaded.policy);
    assert.deepEqual(ruleLines(p.orgs.get(toHex(ORG_A!))), ['deny tcp']);
    assert.equal(evaluatePolicy(loaded.policy, tcp(22), BOB!, ORG_A).action, 'deny');
    assert.equal(evaluatePolicy(loaded.policy, tcp(22), BOB!, undefined).action, 'allow');
  });

  it('keeps an invalid peer file so that the peer is denied', () => {
    trustPeer('alice', ALICE);
    put('services/peer/alice.policy', 'allow tcp 22\npermit all\n');
    put('services/global.policy', 'allow all\n');
    const loaded = loadServicePolicy(dir);
    assert.match(loaded.problems.join('\n'), /alice\.policy: line 2: invalid action/);
    const d = evaluatePolicy(loaded.policy, tcp(22), ALICE!, undefined);
    assert.equal(d.action, 'deny');
    assert.equal(d.reason, 'invalid-policy');
    assert.equal(evaluatePolicy(loaded.policy, tcp(22), BOB!, undefined).action, 'allow');
  });

  it('treats two files for one peer as invalid rather than picking one', () => {
    trustPeer('alice', ALICE);
    put('services/peer/alice.policy', 'allow all\n');
    put(`services/peer/${b64(ALICE)}.policy`, 'allow all\n');
    const loaded = loadServicePolicy(dir);
    assert.match(String(ruleLines(configured(loaded.policy).peers.get(toHex(ALICE!)))), /both apply to peer/);
    assert.equal(loaded.problems.length, 1);
    assert.equal(evaluatePolicy(loaded.policy, tcp(22), ALICE!, undefined).action, 'deny');
  });

  it(`loads at most ${MAX_PEER_POLICIES} peer and ${MAX_ORG_POLICIES} org policies`, () => {
    const peers = keys(MAX_PEER_POLICIES + 1, false, 1000);
    for (const k of peers) put(`services/peer/${b64(k)}.policy`, 'allow all\n');
    const orgs = keys(MAX_ORG_POLICIES + 1, false, 5000);
    for (const k of orgs) put(`services/org/${b64(k)}.policy`, 'allow all\n');
    const loaded = loadServicePolicy(dir);
    const p = configured(loaded.policy);
    assert.equal(p.peers.size, MAX_PEER_POLICIES);
    assert.equal(p.orgs.size, MAX_ORG_POLICIES);
    assert.equal(loaded.problems.length, 2);
    assert.match(loaded.problems.join('\n'), /more than 64 peer policies/);
    assert.match(loaded.problems.join('\n'), /more than 16 org policies/);
  });

  it('does not hang on a FIFO and treats it as an invalid file', (t) => {
    mkdirSync(join(dir, 'services'));
    let made = true;
    try {
      execFileSync('mkfifo', [join(dir, 'services', 'global.policy')]);
    } catch {
      made = false;
    }
    if (!requireCapability(t, made, 'mkfifo (coreutils) is not available')) return;
    const g = configured(loadServicePolicy(dir).policy).global;
    assert.match(String(ruleLines(g)), /not a regular file/);
  });

  it('fails closed when services is not a directory', () => {
    put('services', 'oops');
    const loaded = loadServicePolicy(dir);
    assert.equal(configured(loaded.policy).defaultAction.kind, 'invalid');
    assert.equal(evaluatePolicy(loaded.policy, tcp(22), ALICE!, undefined).action, 'deny');
  });

  it('provides a one-line summary', () => {
    assert.match(loadServicePolicy(dir).summary, /^none/);
    put('services/default', 'deny\n');
    assert.equal(loadServicePolicy(dir).summary, 'default deny, no global policy, 0 peer and 0 org policies');
  });
});

function tcp(port: number): Uint8Array {
  const p = new Uint8Array(24);
  p[0] = 0x45;
  p[9] = 6;
  p[22] = port >> 8;
  p[23] = port & 0xff;
  return p;
}

describe('resolveServiceSubject and serviceSubjectFile', () => {
  it('resolves a trust name, a key with a name, and a bare key', () => {
    trustPeer('alice', ALICE);
    assert.deepEqual(resolveServiceSubject(dir, 'peer', 'alice'), { kind: 'peer', key: ALICE, name: 'alice' });
    assert.deepEqual(resolveServiceSubject(dir, 'peer', b64(ALICE)), { kind: 'peer', key: ALICE, name: 'alice' });
    assert.deepEqual(resolveServiceSubject(dir, 'peer', b64(BOB)), { kind: 'peer', key: BOB, name: undefined });
  });

  it('refuses unknown names, path tricks and malformed keys', () => {
    trustPeer('alice', ALICE);
    for (const id of ['bob', '../authorized_keys/alice', 'alice/', '', '.', '..', `${b64(ALICE).slice(0, 43)}!`]) {
      assert.throws(() => resolveServiceSubject(dir, 'peer', id), ArgumentError, id);
    }
    // An org name is not a peer name.
    trustOrg('acme', ORG_A);
    assert.throws(() => resolveServiceSubject(dir, 'peer', 'acme'), /unknown peer "acme"/);
  });

  it('picks the alias file, else the base64 file, else refuses a key with a slash', () => {
    trustPeer('alice', ALICE);
    const subject = (id: string) => resolveServiceSubject(dir, 'peer', id);
    assert.equal(serviceSubjectFile(dir, subject(b64(ALICE))), join('services', 'peer', 'alice.policy'));
    assert.equal(serviceSubjectFile(dir, subject(b64(BOB))), join('services', 'peer', `${b64(BOB)}.policy`));
    assert.throws(() => serviceSubjectFile(dir, subject(b64(SLASHED))), /contains '\/'.*meshguard trust/);
    trustPeer('slashed', SLASHED);
    assert.equal(serviceSubjectFile(dir, subject(b64(SLASHED))), join('services', 'peer', 'slashed.policy'));
  });

  it('reuses an existing file for the key instead of creating a second one', () => {
    put(`services/peer/${b64(ALICE)}.policy`, 'allow tcp 1\n');
    trustPeer('alice', ALICE);
    const file = serviceSubjectFile(dir, resolveServiceSubject(dir, 'peer', 'alice'));
    assert.equal(file, join('services', 'peer', `${b64(ALICE)}.policy`));
  });
});

describe('appendServiceRule', () => {
  it('creates and appends to global.policy with canonical lines', () => {
    const first = appendServiceRule(dir, { kind: 'global' }, parseServiceRule('allow tcp 22'));
    assert.deepEqual(first, { file: join('services', 'global.policy'), line: 'allow tcp 22', ruleCount: 1 });
    appendServiceRule(dir, { kind: 'global' }, parseServiceRule('deny  udp\t0-0'));
    assert.equal(read('services/global.policy'), 'allow tcp 22\ndeny udp all\n');
  });

  it('adds a newline to a hand-written file that lacks one and keeps its comments', () => {
    put('services/global.policy', '# mine\nallow tcp 22');
    appendServiceRule(dir, { kind: 'global' }, parseServiceRule('allow all'));
    assert.equal(read('services/global.policy'), '# mine\nallow tcp 22\nallow all\n');
  });

  it('writes peer and org files under their trust names', () => {
    trustPeer('alice', ALICE);
    trustOrg('acme', ORG_A);
    appendServiceRule(dir, { kind: 'peer', id: b64(ALICE) }, parseServiceRule('allow tcp 22'));
    appendServiceRule(dir, { kind: 'org', id: 'acme' }, parseServiceRule('deny all'));
    appendServiceRule(dir, { kind: 'peer', id: b64(CAROL) }, parseServiceRule('allow udp 53'));
    assert.equal(read('services/peer/alice.policy'), 'allow tcp 22\n');
    assert.equal(read('services/org/acme.policy'), 'deny all\n');
    assert.equal(read(`services/peer/${b64(CAROL)}.policy`), 'allow udp 53\n');
    const loaded = loadServicePolicy(dir);
    assert.deepEqual(loaded.problems, []);
    assert.equal(configured(loaded.policy).peers.size, 2);
  });

  it('changes nothing when the result would be invalid', () => {
    put('services/global.policy', 'allow tcp 22\n'.repeat(64));
    put('services/peer/bad.policy', 'junk\n');
    trustPeer('bad', BOB);
    const before = snapshot();
    assert.throws(
      () => appendServiceRule(dir, { kind: 'global' }, parseServiceRule('deny all')),
      /line 65: more than 64/,
    );
    assert.throws(
      () => appendServiceRule(dir, { kind: 'peer', id: 'bad' }, parseServiceRule('deny all')),
      (err: unknown) => err instanceof PolicyError && /bad\.policy is invalid/.test(err.message),
    );
    assert.throws(
      () => appendServiceRule(dir, { kind: 'peer', id: 'nobody' }, parseServiceRule('deny all')),
      ArgumentError,
    );
    assert.throws(
      () => appendServiceRule(dir, { kind: 'peer', id: b64(SLASHED) }, parseServiceRule('deny all')),
      ArgumentError,
    );
    assert.deepEqual(snapshot(), before);
  });

  it(`refuses to create a peer file beyond ${MAX_PEER_POLICIES} but still appends to existing ones`, () => {
    const peers = keys(MAX_PEER_POLICIES + 1, false, 2000);
    for (const k of peers.slice(0, MAX_PEER_POLICIES)) put(`services/peer/${b64(k)}.policy`, 'allow all\n');
    const before = snapshot();
    assert.throws(
      () => appendServiceRule(dir, { kind: 'peer', id: b64(peers[MAX_PEER_POLICIES]) }, parseServiceRule('deny all')),
      /already 64 peer policies/,
    );
    assert.deepEqual(snapshot(), before);
    appendServiceRule(dir, { kind: 'peer', id: b64(peers[0]) }, parseServiceRule('deny all'));
    assert.equal(read(`services/peer/${b64(peers[0])}.policy`), 'allow all\ndeny all\n');
  });
});

describe('setServiceDefault and resetServicePolicy', () => {
  it('writes services/default', () => {
    assert.equal(setServiceDefault(dir, 'deny'), join('services', 'default'));
    assert.equal(read('services/default'), 'deny\n');
    setServiceDefault(dir, 'allow');
    assert.equal(read('services/default'), 'allow\n');
  });

  it('removes every file for a peer, and the whole directory without a scope', () => {
    trustPeer('alice', ALICE);
    put('services/peer/alice.policy', 'allow all\n');
    put(`services/peer/${b64(ALICE)}.policy`, 'allow all\n');
    put(`services/peer/${b64(BOB)}.policy`, 'allow all\n');
    put('services/global.policy', 'allow all\n');
    const removed = resetServicePolicy(dir, { kind: 'peer', id: 'alice' });
    assert.deepEqual(
      removed.sort(),
      [join('services', 'peer', 'alice.policy'), join('services', 'peer', `${b64(ALICE)}.policy`)].sort(),
    );
    assert.deepEqual(resetServicePolicy(dir, { kind: 'peer', id: 'alice' }), []);
    assert.deepEqual(resetServicePolicy(dir, { kind: 'global' }), [join('services', 'global.policy')]);
    assert.deepEqual(resetServicePolicy(dir, undefined), ['services']);
    assert.deepEqual(readdirSync(dir).sort(), ['authorized_keys']);
    assert.deepEqual(resetServicePolicy(dir, undefined), []);
  });

  it('removes a file whose alias no longer resolves, and refuses an unknown peer', () => {
    put('services/peer/gone.policy', 'allow all\n');
    assert.deepEqual(resetServicePolicy(dir, { kind: 'peer', id: 'gone' }), [join('services', 'peer', 'gone.policy')]);
    assert.throws(() => resetServicePolicy(dir, { kind: 'peer', id: 'nobody' }), ArgumentError);
    assert.throws(() => resetServicePolicy(dir, { kind: 'org', id: '../peer/x' }), ArgumentError);
  });
});
