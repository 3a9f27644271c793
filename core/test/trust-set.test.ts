import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  deriveWireGuardKeyPair,
  issueCertificate,
  issueDelegatedCertificate,
  keyPairFromSeed,
  fromHex,
  recordCertificate,
  signOrgRevoke,
  signOrgVouch,
  signOrgAlias,
  TrustSet,
  validateCertificate,
  decodeNodeCertificate,
  encodeNodeCertificate,
  decodeOrgMessage,
  encodeOrgMessage,
  verifyOrgMessage,
  type NodeCertificate,
} from '../src/index.js';
import { K1, K2, K3 } from './fixtures.js';

const NOW = 1_800_000_000n;
const ORG = K2;
const OTHER_ORG = keyPairFromSeed(fromHex('22'.repeat(32), 32, 'other'));
const NODE = K1;
const STRANGER = keyPairFromSeed(fromHex('33'.repeat(32), 32, 'stranger'));

function cert(overrides: Partial<{ expiresAt: bigint; issuedAt: bigint; org: typeof ORG }> = {}): NodeCertificate {
  return issueCertificate(overrides.org ?? ORG, {
    nodePublicKey: NODE.publicKey,
    nodeName: 'node-1',
    issuedAt: overrides.issuedAt ?? NOW - 100n,
    expiresAt: overrides.expiresAt ?? NOW + 1000n,
    wgPublicKey: deriveWireGuardKeyPair(NODE.seed).publicKey,
  });
}

const trustWithOrg = (): TrustSet =>
  new TrustSet({ self: K3.publicKey, trustedOrgs: [{ name: 'acme', publicKey: ORG.publicKey }] });

describe('TrustSet.decide', () => {
  it('refuses the all-zero and invalid keys before anything else, even in open mode', () => {
    const t = new TrustSet({ open: true });
    assert.equal(t.decide({ peer: new Uint8Array(32), now: NOW }).reason, 'zero-key');
    const offCurve = new Uint8Array(32);
    offCurve[0] = 2;
    assert.equal(t.decide({ peer: offCurve, now: NOW }).reason, 'invalid-key');
  });
  it('admits self, then authorized keys', () => {
    const t = new TrustSet({ self: K3.publicKey, authorizedKeys: [{ name: 'n1', publicKey: NODE.publicKey }] });
    assert.deepEqual(t.decide({ peer: K3.publicKey, now: NOW }), {
      allowed: true,
      reason: 'self',
      detail: 'our own key',
    });
    const d = t.decide({ peer: NODE.publicKey, now: NOW });
    assert.equal(d.reason, 'authorized-key');
    assert.match(d.detail, /n1\.pub/);
  });
  it('fails closed with nothing configured unless open', () => {
    assert.equal(new TrustSet({}).decide({ peer: NODE.publicKey, now: NOW }).reason, 'no-trust-configured');
    assert.equal(new TrustSet({ open: true }).decide({ peer: NODE.publicKey, now: NOW }).reason, 'open');
  });
  it('admits by a valid presented certificate from a trusted org', () => {
    const d = trustWithOrg().decide({ peer: NODE.publicKey, now: NOW, presentedCertificate: cert() });
    assert.equal(d.allowed, true);
    assert.equal(d.reason, 'certificate');
  });
  it('explains why a presented certificate fails', () => {
    const t = trustWithOrg();
    const expired = cert({ expiresAt: NOW - 1n, issuedAt: NOW - 100n });
    assert.equal(
      t.decide({ peer: NODE.publicKey, now: NOW, presentedCertificate: expired }).reason,
      'certificate-expired',
    );
    // Expiry is strict: valid iff now < expires_at.
    const edge = cert({ expiresAt: NOW, issuedAt: NOW - 100n });
    assert.equal(
      t.decide({ peer: NODE.publicKey, now: NOW, presentedCertificate: edge }).reason,
      'certificate-expired',
    );
    assert.equal(t.decide({ peer: NODE.publicKey, now: NOW - 1n, presentedCertificate: edge }).reason, 'certificate');
    const foreign = cert({ org: OTHER_ORG });
    assert.equal(
      t.decide({ peer: NODE.publicKey, now: NOW, presentedCertificate: foreign }).reason,
      'certificate-untrusted-org',
    );
    assert.equal(
      t.decide({ peer: STRANGER.publicKey, now: NOW, presentedCertificate: cert() }).reason,
      'certificate-node-mismatch',
    );
    const tampered = encodeNodeCertificate(cert());
    tampered[70]! ^= 1; // inside node_name
    assert.equal(
      t.decide({ peer: NODE.publicKey, now: NOW, presentedCertificate: decodeNodeCertificate(tampered) }).reason,
      'certificate-bad-signature',
    );
    const future = cert({ issuedAt: NOW + 7200n, expiresAt: NOW + 9000n });
    assert.equal(
      t.decide({ peer: NODE.publicKey, now: NOW, presentedCertificate: future }).reason,
      'certificate-not-yet-valid',
    );
    assert.equal(t.decide({ peer: NODE.publicKey, now: NOW }).reason, 'not-trusted');
  });
  it('org revocation removes certificate and vouch admission for that org only', () => {
    const t = new TrustSet({
      trustedOrgs: [
        { name: 'acme', publicKey: ORG.publicKey },
        { name: 'other', publicKey: OTHER_ORG.publicKey },
      ],
      authorizedKeys: [{ name: 'direct', publicKey: STRANGER.publicKey }],
    });
    assert.equal(t.applyVouch(signOrgVouch(ORG, NODE.publicKey, 1n)), 'applied');
    assert.equal(t.decide({ peer: NODE.publicKey, now: NOW }).reason, 'vouched');
    assert.equal(t.applyRevocation(signOrgRevoke(ORG, NODE.publicKey, 2, 5n)), 'applied');
    assert.equal(t.applyRevocation(signOrgRevoke(ORG, NODE.publicKey, 2, 6n)), 'duplicate');
    assert.equal(t.decide({ peer: NODE.publicKey, now: NOW }).reason, 'not-trusted');
    assert.equal(
      t.decide({ peer: NODE.publicKey, now: NOW, presentedCertificate: cert() }).reason,
      'certificate-revoked',
    );
    // Another org's certificate still admits; authorized keys are unaffected by org revocations.
    assert.equal(
      t.decide({ peer: NODE.publicKey, now: NOW, presentedCertificate: cert({ org: OTHER_ORG }) }).reason,
      'certificate',
    );
    assert.equal(t.applyRevocation(signOrgRevoke(ORG, STRANGER.publicKey, 1, 7n)), 'applied');
    assert.equal(t.decide({ peer: STRANGER.publicKey, now: NOW }).reason, 'authorized-key');
    // A vouch for a revoked key is refused.
    assert.equal(t.applyVouch(signOrgVouch(ORG, NODE.publicKey, 9n)), 'revoked');
  });
  it('refuses forged org messages', () => {
    const t = trustWithOrg();
    const forged = { ...signOrgRevoke(STRANGER, NODE.publicKey, 2, 1n), orgPublicKey: ORG.publicKey };
    assert.equal(t.applyRevocation(forged), 'bad-signature');
    const forgedVouch = { ...signOrgVouch(STRANGER, NODE.publicKey, 1n), orgPublicKey: ORG.publicKey };
    assert.equal(t.applyVouch(forgedVouch), 'bad-signature');
  });
  it('a vouch signature cannot be replayed as an alias, nor an alias as a vouch', () => {
    const vouch = signOrgVouch(ORG, NODE.publicKey, 42n);
    const asAlias = decodeOrgMessage(Uint8Array.of(0x41, ...encodeOrgMessage(vouch).subarray(1)));
    assert.equal(asAlias.kind, 'alias');
    assert.equal(verifyOrgMessage(asAlias), false);
    const alias = signOrgAlias(ORG, 'db', 42n);
    const asVouch = decodeOrgMessage(Uint8Array.of(0x43, ...encodeOrgMessage(alias).subarray(1)));
    assert.equal(verifyOrgMessage(asVouch), false);
  });
  it('recorded certificates stay valid only while org trusted, unexpired and unrevoked', () => {
    const t = trustWithOrg();
    const rec = recordCertificate(cert());
    assert.equal(t.decide({ peer: NODE.publicKey, now: NOW, recordedCertificate: rec }).reason, 'recorded-certificate');
    assert.equal(
      t.decide({ peer: NODE.publicKey, now: NOW + 5000n, recordedCertificate: rec }).reason,
      'recorded-certificate-invalid',
    );
    t.applyRevocation(signOrgRevoke(ORG, NODE.publicKey, 2, 1n));
    assert.equal(t.decide({ peer: NODE.publicKey, now: NOW, recordedCertificate: rec }).allowed, false);
  });
  it('delegated certificates: valid, then refused once the issuer is revoked', () => {
    const t = trustWithOrg();
    const issuer = K3;
    const delegated = issueDelegatedCertificate(ORG, issuer, {
      nodePublicKey: NODE.publicKey,
      nodeName: 'node-1',
      issuedAt: NOW - 10n,
      expiresAt: 0n,
      wgPublicKey: deriveWireGuardKeyPair(NODE.seed).publicKey,
    });
    assert.equal(t.decide({ peer: NODE.publicKey, now: NOW, presentedCertificate: delegated }).reason, 'certificate');
    const forgedGrant = { ...delegated, delegationSignature: new Uint8Array(64) };
    assert.equal(
      validateCertificate(forgedGrant, { now: NOW, isTrustedOrg: () => true, isRevoked: () => false }).ok,
      false,
    );
    t.applyRevocation(signOrgRevoke(ORG, issuer.publicKey, 1, 3n));
    assert.equal(
      t.decide({ peer: NODE.publicKey, now: NOW, presentedCertificate: delegated }).reason,
      'certificate-issuer-revoked',
    );
  });
});
