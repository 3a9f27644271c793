import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  ConflictError,
  createKeyPair,
  encodeNodeCertificate,
  encodeOrgMessage,
  encodePublicKeyFile,
  identityLocation,
  issueCertificate,
  loadKeyPair,
  loadTrust,
  parseDuration,
  resolveConfigDir,
  signOrgRevoke,
  writeFileAtomic,
  writeFilesAtomic,
  InvalidKeyError,
} from '../src/index.js';
import { K1, K2, K3 } from './fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'meshguard-core-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => join(root, `d${n++}`);

describe('atomic writes', () => {
  it('sets the mode regardless of umask and leaves no temp files', () => {
    const dir = freshDir();
    const old = process.umask(0o077);
    try {
      writeFileAtomic(join(dir, 'a'), 'x', { mode: 0o644 });
    } finally {
      process.umask(old);
    }
    assert.equal(statSync(join(dir, 'a')).mode & 0o777, 0o644);
    writeFileAtomic(join(dir, 'a'), 'y', { mode: 0o600 });
    assert.equal(readFileSync(join(dir, 'a'), 'utf8'), 'y');
    assert.equal(statSync(join(dir, 'a')).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dir), ['a']);
  });
  it('overwrite:false refuses an existing file and keeps it intact', () => {
    const dir = freshDir();
    writeFileAtomic(join(dir, 'a'), 'first');
    assert.throws(() => writeFileAtomic(join(dir, 'a'), 'second', { overwrite: false }), ConflictError);
    assert.equal(readFileSync(join(dir, 'a'), 'utf8'), 'first');
    assert.deepEqual(readdirSync(dir), ['a']);
  });
  it('a group write that fails changes nothing', () => {
    const dir = freshDir();
    writeFileAtomic(join(dir, 'b'), 'keep');
    assert.throws(() =>
      writeFilesAtomic([
        { path: join(dir, 'a'), data: 'new' },
        { path: join(dir, 'b'), data: 'clobber', options: { overwrite: false } },
      ]),
    );
    // 'a' was linked before 'b' failed; what must never happen is a torn or temp file.
    assert.equal(readFileSync(join(dir, 'b'), 'utf8'), 'keep');
    assert.equal(readdirSync(dir).filter((f) => f.endsWith('.tmp')).length, 0);
  });
});

describe('key pair files', () => {
  it('creates identity.key 0600 and identity.pub 0644, refuses to overwrite without force', () => {
    const dir = freshDir();
    const loc = identityLocation(dir);
    const pair = createKeyPair(loc, { force: false });
    assert.equal(statSync(loc.secretPath).mode & 0o777, 0o600);
    assert.equal(statSync(loc.publicPath).mode & 0o777, 0o644);
    assert.equal(readFileSync(loc.secretPath).length, 89);
    assert.equal(readFileSync(loc.publicPath).length, 45);
    assert.deepEqual(loadKeyPair(loc).publicKey, pair.publicKey);
    const before = readFileSync(loc.secretPath);
    assert.throws(() => createKeyPair(loc, { force: false }), ConflictError);
    assert.deepEqual(readFileSync(loc.secretPath), before);
    const replaced = createKeyPair(loc, { force: true });
    assert.notDeepEqual(replaced.publicKey, pair.publicKey);
    assert.equal(statSync(loc.secretPath).mode & 0o777, 0o600);
  });
  it('refuses a .pub that does not match the .key', () => {
    const dir = freshDir();
    const loc = identityLocation(dir);
    createKeyPair(loc, { force: false });
    writeFileSync(loc.publicPath, encodePublicKeyFile(K2.publicKey));
    assert.throws(() => loadKeyPair(loc), InvalidKeyError);
  });
});

describe('config dir', () => {
  it('resolves MESHGUARD_CONFIG_DIR, then XDG_CONFIG_HOME, then ~/.config', () => {
    assert.equal(resolveConfigDir({ MESHGUARD_CONFIG_DIR: '/x', HOME: '/h' }), '/x');
    assert.equal(resolveConfigDir({ XDG_CONFIG_HOME: '/xdg', HOME: '/h' }), '/xdg/meshguard');
    assert.equal(resolveConfigDir({ HOME: '/h' }), '/h/.config/meshguard');
  });
});

describe('durations', () => {
  it('parses units and never', () => {
    assert.equal(parseDuration('90d'), 90 * 86400);
    assert.equal(parseDuration('1h30m'), 5400);
    assert.equal(parseDuration('1y'), 365 * 86400);
    assert.equal(parseDuration('never'), null);
    for (const bad of ['', '10', 'd', '-1d', '1.5h', '0s', '1d ', '99999999y'])
      assert.throws(() => parseDuration(bad), /duration/);
  });
});

describe('loadTrust', () => {
  it('loads keys, orgs, verified revocations and node.cert, and reports every skipped file', () => {
    const dir = freshDir();
    mkdirSync(join(dir, 'authorized_keys'), { recursive: true });
    mkdirSync(join(dir, 'trusted_orgs'), { recursive: true });
    mkdirSync(join(dir, 'revoked'), { recursive: true });
    writeFileSync(join(dir, 'identity.pub'), encodePublicKeyFile(K1.publicKey));
    writeFileSync(join(dir, 'authorized_keys', 'k3.pub'), encodePublicKeyFile(K3.publicKey));
    writeFileSync(join(dir, 'authorized_keys', 'broken.pub'), 'not base64\n');
    writeFileSync(join(dir, 'authorized_keys', 'ignored.txt'), 'whatever');
    writeFileSync(join(dir, 'trusted_orgs', 'acme.org'), encodePublicKeyFile(K2.publicKey));
    writeFileSync(join(dir, 'revoked', 'good.revoke'), encodeOrgMessage(signOrgRevoke(K2, K3.publicKey, 2, 1n)));
    const forged = encodeOrgMessage(signOrgRevoke(K2, K1.publicKey, 2, 1n));
    forged[100]! ^= 1;
    writeFileSync(join(dir, 'revoked', 'forged.revoke'), forged);
    writeFileSync(join(dir, 'revoked', 'short.revoke'), forged.subarray(0, 100));
    const cert = issueCertificate(K2, { nodePublicKey: K1.publicKey, nodeName: 'me', issuedAt: 100n, expiresAt: 0n });
    writeFileSync(join(dir, 'node.cert'), encodeNodeCertificate(cert));

    const loaded = loadTrust(dir, { now: 1000n });
    assert.deepEqual(loaded.identity, K1.publicKey);
    assert.deepEqual(
      loaded.trust.authorizedKeys.map((k) => k.name),
      ['k3'],
    );
    assert.deepEqual(
      loaded.trust.trustedOrgs.map((o) => o.name),
      ['acme'],
    );
    assert.equal(loaded.trust.revocations.length, 1);
    assert.equal(loaded.trust.isRevoked(K2.publicKey, K3.publicKey), true);
    assert.equal(loaded.nodeCertificate?.check.ok, true);
    assert.equal(loaded.problems.length, 3, loaded.problems.join('\n'));
    assert.ok(loaded.problems.some((p) => p.includes('broken.pub')));
    assert.ok(loaded.problems.some((p) => p.includes('forged.revoke') && p.includes('bad-signature')));
    assert.ok(loaded.problems.some((p) => p.includes('short.revoke')));
  });
  it('flags a node.cert for another identity', () => {
    const dir = freshDir();
    mkdirSync(join(dir, 'trusted_orgs'), { recursive: true });
    writeFileSync(join(dir, 'identity.pub'), encodePublicKeyFile(K3.publicKey));
    writeFileSync(join(dir, 'trusted_orgs', 'acme.org'), encodePublicKeyFile(K2.publicKey));
    const cert = issueCertificate(K2, { nodePublicKey: K1.publicKey, nodeName: 'me', issuedAt: 100n, expiresAt: 0n });
    writeFileSync(join(dir, 'node.cert'), encodeNodeCertificate(cert));
    const loaded = loadTrust(dir, { now: 1000n });
    assert.equal(loaded.nodeCertificate?.check.ok, false);
    assert.ok(loaded.problems.some((p) => p.includes('different node')));
  });
});
