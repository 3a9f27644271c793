import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  checkCertificateSignatures,
  decodeNodeCertificate,
  decodePublicKeyText,
  decodeRevocationFile,
  decodeVouchFile,
  deriveWireGuardKeyPair,
  decodeSecretKeyFile,
  encodeNodeCertificate,
  encodePublicKeyFile,
  issueCertificate,
  meshAddresses,
  signedPayload,
  verify,
  verifyOrgMessage,
  keyPairFromSeed,
  fromHex,
} from '@meshguard/core';
import { makeHarness, snapshotTree, type CliHarness } from './harness.js';

const VALID_KEY = '11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo='; // spec K1
const K2_KEY = 'PUAXw+hDiVqStwqnTRt+vJyYLM8uxJaMwM1V8Sr0Zgw=';
const OFF_CURVE = Buffer.concat([Buffer.from([2]), Buffer.alloc(31)]).toString('base64');

/** Runs the command, expects refusal with one stderr line, and an unchanged config dir. */
function refuses(h: CliHarness, expected: RegExp, ...argv: string[]): void {
  const before = snapshotTree(h.dir);
  const r = h.run(...argv);
  assert.notEqual(r.code, 0, `expected failure: ${argv.join(' ')}`);
  assert.equal(r.err.length, 1, r.err.join('\n'));
  assert.match(r.err[0]!, expected);
  assert.deepEqual(snapshotTree(h.dir), before, `config dir changed by: ${argv.join(' ')}`);
}

describe('keygen / export', () => {
  let h: CliHarness;
  before(() => (h = makeHarness()));
  after(() => h.cleanup());

  it('creates identity files with the spec layout and modes', () => {
    const out = h.ok('keygen');
    const key = readFileSync(join(h.dir, 'identity.key'), 'latin1');
    const pub = readFileSync(join(h.dir, 'identity.pub'), 'latin1');
    assert.equal(key.length, 89);
    assert.equal(pub.length, 45);
    assert.equal(statSync(join(h.dir, 'identity.key')).mode & 0o777, 0o600);
    const pair = decodeSecretKeyFile(key);
    assert.deepEqual(decodePublicKeyText(pub), pair.publicKey);
    assert.ok(out.some((l) => l.includes(meshAddresses(pair.publicKey).ipv4)));
    assert.deepEqual(h.ok('export'), [pub.trim()]);
    assert.deepEqual(h.ok('export', '--wireguard'), [
      Buffer.from(deriveWireGuardKeyPair(pair.seed).publicKey).toString('base64'),
    ]);
  });
  it('refuses to overwrite without --force, replaces with it', () => {
    refuses(h, /already exists.*--force/, 'keygen');
    const before = readFileSync(join(h.dir, 'identity.pub'), 'latin1');
    h.ok('keygen', '--force');
    assert.notEqual(readFileSync(join(h.dir, 'identity.pub'), 'latin1'), before);
    assert.equal(statSync(join(h.dir, 'identity.key')).mode & 0o777, 0o600);
  });
  it('usage errors exit 2 and write nothing', () => {
    refuses(h, /unknown option|Unknown option/i, 'keygen', '--frce');
    refuses(h, /unexpected argument/, 'keygen', 'extra');
    assert.equal(h.run('no-such-command').code, 2);
  });
});

describe('trust / revoke', () => {
  let h: CliHarness;
  before(() => (h = makeHarness()));
  after(() => h.cleanup());

  it('trusts a key by value with a name, and from a file by its stem', () => {
    h.ok('trust', VALID_KEY, '--name', 'node-1');
    assert.equal(readFileSync(join(h.dir, 'authorized_keys', 'node-1.pub'), 'latin1'), `${VALID_KEY}\n`);
    const file = join(h.dir, '..', 'db-2.pub');
    writeFileSync(file, `${K2_KEY}\n`);
    h.ok('trust', file);
    assert.equal(readFileSync(join(h.dir, 'authorized_keys', 'db-2.pub'), 'latin1'), `${K2_KEY}\n`);
  });
  it('is idempotent for the same name and key', () => {
    assert.match(h.ok('trust', VALID_KEY, '--name', 'node-1').join(), /nothing changed/);
  });
  it('refuses bad keys and collisions without touching the config dir', () => {
    refuses(h, /base64/, 'trust', 'not-a-key!!', '--name', 'x');
    refuses(h, /neither a base64 public key nor an existing file/, 'trust', VALID_KEY.slice(0, 40), '--name', 'x');
    refuses(h, /not a point/, 'trust', OFF_CURVE, '--name', 'x');
    refuses(h, /all-zero/, 'trust', Buffer.alloc(32).toString('base64'), '--name', 'x');
    refuses(h, /already used for another peer key/, 'trust', K2_KEY, '--name', 'node-1');
    refuses(h, /already trusted as peer "node-1"/, 'trust', VALID_KEY, '--name', 'other');
    refuses(h, /invalid name/, 'trust', VALID_KEY, '--name', '../escape');
    const bad = join(h.dir, '..', 'bad.pub');
    writeFileSync(bad, 'AAAA\n');
    refuses(h, /expected 44 base64 characters/, 'trust', bad);
  });
  it('trusts an org under its mesh domain by default', () => {
    h.ok('trust', K2_KEY, '--org');
    assert.equal(readFileSync(join(h.dir, 'trusted_orgs', '1027e0.org'), 'latin1'), `${K2_KEY}\n`);
  });
  it('revoke removes the file; unknown names are refused', () => {
    h.ok('revoke', 'db-2');
    assert.throws(() => statSync(join(h.dir, 'authorized_keys', 'db-2.pub')));
    refuses(h, /no trusted peer named "db-2"/, 'revoke', 'db-2');
    h.ok('revoke', '1027e0', '--org');
  });
});

describe('org-keygen / org-sign / org-vouch / org-revoke', () => {
  let h: CliHarness;
  let orgPub: Uint8Array;
  before(() => {
    h = makeHarness();
    h.ok('org-keygen');
    orgPub = decodePublicKeyText(readFileSync(join(h.dir, 'org', 'org.pub'), 'latin1'));
  });
  after(() => h.cleanup());

  it('writes org.key 0600', () => {
    assert.equal(statSync(join(h.dir, 'org', 'org.key')).mode & 0o777, 0o600);
    refuses(h, /already exists/, 'org-keygen');
  });
  it('org-sign v1 writes a 314-byte slot whose signature verifies over exactly P_v1', () => {
    h.ok('org-sign', VALID_KEY, '--name', 'node-1', '--expires', '30d');
    const bytes = readFileSync(join(h.dir, 'node-1.cert'));
    assert.equal(bytes.length, 314);
    assert.ok(bytes.subarray(186).every((b) => b === 0));
    const cert = decodeNodeCertificate(bytes);
    assert.equal(cert.version, 1);
    assert.deepEqual(cert.orgPublicKey, orgPub);
    assert.equal(cert.issuedAt, h.now);
    assert.equal(cert.expiresAt, h.now + 30n * 86400n);
    const payload = signedPayload(cert);
    assert.equal(payload.length, 114);
    assert.deepEqual(payload, new Uint8Array(bytes.subarray(0, 114)));
    assert.equal(verify(cert.signature, payload, orgPub), true);
  });
  it('org-sign v2 binds the WireGuard key; the signature covers P_v2 (178 bytes)', () => {
    const node = keyPairFromSeed(fromHex('44'.repeat(32), 32, 'n'));
    const wg = Buffer.from(deriveWireGuardKeyPair(node.seed).publicKey).toString('base64');
    h.ok(
      'org-sign',
      Buffer.from(node.publicKey).toString('base64'),
      '--name',
      'db-1',
      '--wg-pubkey',
      wg,
      '--expires',
      'never',
    );
    const bytes = readFileSync(join(h.dir, 'db-1.cert'));
    const cert = decodeNodeCertificate(bytes);
    assert.equal(cert.version, 2);
    assert.equal(cert.expiresAt, 0n);
    assert.equal(Buffer.from(cert.wgPublicKey).toString('base64'), wg);
    const payload = signedPayload(cert);
    assert.equal(payload.length, 178);
    assert.deepEqual(payload.subarray(0, 114), new Uint8Array(bytes.subarray(0, 114)));
    assert.deepEqual(payload.subarray(114, 146), new Uint8Array(bytes.subarray(186, 218)));
    assert.equal(verify(cert.signature, payload, orgPub), true);
    assert.equal(checkCertificateSignatures(cert).ok, true);
  });
  it('org-sign refuses bad input and writes nothing', () => {
    refuses(h, /--name is required/, 'org-sign', VALID_KEY);
    refuses(h, /not a DNS label/, 'org-sign', VALID_KEY, '--name', 'Bad_Name');
    refuses(h, /1-32 characters/, 'org-sign', VALID_KEY, '--name', 'a'.repeat(33));
    refuses(h, /invalid duration/, 'org-sign', VALID_KEY, '--name', 'n', '--expires', 'soon');
    refuses(h, /--wg-pubkey/, 'org-sign', VALID_KEY, '--name', 'n', '--wg-pubkey', 'short');
    refuses(
      h,
      /small-order|all zero/,
      'org-sign',
      VALID_KEY,
      '--name',
      'n',
      '--wg-pubkey',
      Buffer.alloc(32).toString('base64'),
    );
    refuses(h, /not a point/, 'org-sign', OFF_CURVE, '--name', 'n');
  });
  it('org-vouch writes the 136-byte vouch file, verified by the org key', () => {
    h.ok('org-vouch', VALID_KEY);
    const bytes = readFileSync(join(h.dir, 'vouched', 'd75a980182b10ab7.vouch'));
    assert.equal(bytes.length, 136);
    const vouch = decodeVouchFile(bytes);
    assert.deepEqual(vouch.orgPublicKey, orgPub);
    assert.equal(vouch.lamport, h.now);
    assert.equal(verifyOrgMessage(vouch), true);
  });
  it('org-revoke writes the 138-byte revocation; repeated revoke changes nothing', () => {
    h.ok('org-revoke', VALID_KEY, '--reason', 'key-compromised');
    const path = join(h.dir, 'revoked', 'd75a980182b10ab7.revoke');
    const m = decodeRevocationFile(readFileSync(path));
    assert.equal(m.reason, 1);
    assert.equal(verifyOrgMessage(m), true);
    const before = snapshotTree(h.dir);
    assert.match(h.ok('org-revoke', VALID_KEY).join(), /already revoked/);
    assert.deepEqual(snapshotTree(h.dir), before);
    refuses(h, /invalid --reason/, 'org-revoke', K2_KEY, '--reason', 'because');
  });
  it('org commands without an org key say how to make one', () => {
    const other = makeHarness();
    try {
      refuses(other, /org-keygen/, 'org-sign', VALID_KEY, '--name', 'x');
      refuses(other, /org-keygen/, 'org-revoke', VALID_KEY);
    } finally {
      other.cleanup();
    }
  });
});

describe('cert install', () => {
  let node: CliHarness;
  let admin: CliHarness;
  before(() => {
    node = makeHarness();
    admin = makeHarness();
    node.ok('keygen');
    admin.ok('org-keygen');
  });
  after(() => {
    node.cleanup();
    admin.cleanup();
  });
  const nodePub = (): string => readFileSync(join(node.dir, 'identity.pub'), 'latin1').trim();
  const orgPub = (): string => readFileSync(join(admin.dir, 'org', 'org.pub'), 'latin1').trim();

  it('refuses a certificate from an org that is not trusted', () => {
    admin.ok('org-sign', nodePub(), '--name', 'n1', '--out', join(admin.dir, 'n1.cert'));
    refuses(node, /untrusted|not trusted/, 'cert', 'install', join(admin.dir, 'n1.cert'));
  });
  it('installs a valid certificate (raw or base64) once the org is trusted', () => {
    node.ok('trust', orgPub(), '--org');
    const raw = readFileSync(join(admin.dir, 'n1.cert'));
    node.stdin = new TextEncoder().encode(`${raw.toString('base64')}\n`);
    node.ok('cert', 'install', '-');
    assert.deepEqual(readFileSync(join(node.dir, 'node.cert')), raw);
  });
  it('refuses expired, tampered, truncated and foreign certificates, keeping the installed one', () => {
    admin.now = node.now - 400n * 86400n;
    admin.ok('org-sign', nodePub(), '--name', 'old', '--expires', '30d', '--out', join(admin.dir, 'old.cert'));
    admin.now = node.now;
    refuses(node, /expired/, 'cert', 'install', join(admin.dir, 'old.cert'));

    const tampered = readFileSync(join(admin.dir, 'n1.cert'));
    tampered[70]! ^= 1;
    writeFileSync(join(admin.dir, 'tampered.cert'), tampered);
    refuses(node, /signature/, 'cert', 'install', join(admin.dir, 'tampered.cert'));

    writeFileSync(join(admin.dir, 'short.cert'), tampered.subarray(0, 100));
    refuses(node, /not a certificate/, 'cert', 'install', join(admin.dir, 'short.cert'));

    admin.ok('org-sign', VALID_KEY, '--name', 'someone-else', '--out', join(admin.dir, 'else.cert'));
    refuses(node, /different node/, 'cert', 'install', join(admin.dir, 'else.cert'));
  });
  it('config show reports identity, trust and the certificate', () => {
    const out = node.ok('config', 'show').join('\n');
    assert.match(out, /trusted orgs \(1\)/);
    assert.match(out, /status: +valid/);
    assert.match(out, /n1\.[0-9a-f]{6}\.mesh/);
  });
});

describe('config show on a damaged config dir', () => {
  it('lists each bad file as a problem instead of failing', () => {
    const h = makeHarness();
    try {
      mkdirSync(join(h.dir, 'authorized_keys'), { recursive: true });
      writeFileSync(join(h.dir, 'authorized_keys', 'junk.pub'), 'zzz\n');
      const other = keyPairFromSeed(fromHex('55'.repeat(32), 32, 'o'));
      writeFileSync(join(h.dir, 'identity.pub'), encodePublicKeyFile(other.publicKey));
      const cert = issueCertificate(other, {
        nodePublicKey: other.publicKey,
        nodeName: 'x',
        issuedAt: 1n,
        expiresAt: 2n,
      });
      writeFileSync(join(h.dir, 'node.cert'), encodeNodeCertificate(cert));
      const out = h.ok('config', 'show').join('\n');
      assert.match(out, /problems \(\d+\)/);
      assert.match(out, /junk\.pub/);
      assert.match(out, /INVALID/);
    } finally {
      h.cleanup();
    }
  });
});

describe('version', () => {
  it('prints the package version and the compatible wire protocol', () => {
    const h = makeHarness();
    assert.match(h.ok('version')[0]!, /^meshguard \d+\.\d+\.\d+ \(meshguard 0\.10\.0 wire protocol; node v24\./);
    h.cleanup();
  });
});
