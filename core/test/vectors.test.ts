import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  decodeNodeCertificate,
  decodeOrgMessage,
  decodePublicKeyText,
  decodeRevocationFile,
  decodeSecretKeyFile,
  decodeVouchFile,
  deriveWireGuardKeyPair,
  encodeNodeCertificate,
  encodeOrgMessage,
  encodePublicKeyFile,
  encodeSecretKeyFile,
  encodeVouchFile,
  grantPayload,
  isTieBreakInitiator,
  issueCertificate,
  issueDelegatedCertificate,
  meshAddresses,
  nodeFqdn,
  orgDomain,
  orgMessageFileStem,
  signedPayload,
  signOrgAlias,
  signOrgRevoke,
  signOrgVouch,
  verifyOrgMessage,
  checkCertificateSignatures,
  keyPairFromSeed,
  aliasSignedPayload,
  revokeSignedPayload,
  vouchSignedPayload,
} from '../src/index.js';
import { blake3 } from '@noble/hashes/blake3.js';
import { hex, K1, K2, K3, toHexStr } from './fixtures.js';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('spec §17 keys', () => {
  it('K1–K3 public keys match RFC 8032', () => {
    assert.equal(toHexStr(K1.publicKey), 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
    assert.equal(toHexStr(K2.publicKey), '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c');
    assert.equal(toHexStr(K3.publicKey), 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025');
  });
});

describe('TV1 identity files', () => {
  const key = 'nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2DXWpgBgrEKt9VL/tPJZAc6DuFy89qmIyWvAhpo9wdRGg==\n';
  const pub = '11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n';
  it('encodes byte-exact', () => {
    assert.equal(encodeSecretKeyFile(K1), key);
    assert.equal(encodePublicKeyFile(K1.publicKey), pub);
    assert.equal(Buffer.byteLength(key), 89);
    assert.equal(Buffer.byteLength(pub), 45);
  });
  it('decodes back', () => {
    const pair = decodeSecretKeyFile(key);
    assert.deepEqual(pair.seed, K1.seed);
    assert.deepEqual(decodePublicKeyText(pub), K1.publicKey);
  });
});

describe('TV2–TV4 addressing', () => {
  it('TV2 K1', () => {
    assert.equal(toHexStr(blake3(K1.publicKey)), '6c31041268f471609c79f5f2dbcc38e4a4ab2f4d416109a4e09fcf50fd0f0062');
    const a = meshAddresses(K1.publicKey);
    assert.equal(a.ipv4, '10.99.108.49');
    assert.equal(a.ipv6, 'fd99:6d67::6c31:412:68f4:7160');
    assert.equal(orgDomain(K1.publicKey), '6c3104');
  });
  it('TV3 K2 and K3', () => {
    assert.equal(toHexStr(blake3(K2.publicKey)), '1027e035b26b605dc6d4b78d07dc29660fcc3498b598a2e57c4e6b1b673a1e95');
    assert.equal(meshAddresses(K2.publicKey).ipv4, '10.99.16.39');
    assert.equal(meshAddresses(K2.publicKey).ipv6, 'fd99:6d67::1027:e035:b26b:605d');
    assert.equal(orgDomain(K2.publicKey), '1027e0');
    assert.equal(nodeFqdn('node-1', K2.publicKey), 'node-1.1027e0.mesh');
    assert.equal(toHexStr(blake3(K3.publicKey)), '84606c25c8a5a750079bda4a657cac3bef933197bcd2808879d0dab988621406');
    assert.equal(meshAddresses(K3.publicKey).ipv4, '10.99.132.96');
    assert.equal(meshAddresses(K3.publicKey).ipv6, 'fd99:6d67::8460:6c25:c8a5:a750');
    assert.equal(orgDomain(K3.publicKey), '84606c');
  });
  const cases = [
    [
      'meshguard-vector-15',
      'e8ca03cc0dc18df9c47004bb8481ad8d9c23e8389d53bf94a53ec88c16bfc57b',
      '00ad04f19d85e595',
      '10.99.1.173',
    ],
    [
      'meshguard-vector-220',
      'c5f3b2bd699e9538125ca8f715b800ef324d0da385791afacb966bd8082100e4',
      '2d00211c6bca441a',
      '10.99.45.1',
    ],
    [
      'meshguard-vector-398',
      '2a08e3f0d445fe081ea17cae4b77acf3155625291038f9409753f6ff763f2652',
      'c2ff038e8483cbef',
      '10.99.194.254',
    ],
  ] as const;
  for (const [label, pubHex, h8, ipv4] of cases) {
    it(`TV4 ${label} → ${ipv4}`, () => {
      const pair = keyPairFromSeed(createHash('sha256').update(label).digest());
      assert.equal(toHexStr(pair.publicKey), pubHex);
      assert.equal(toHexStr(blake3(pair.publicKey).subarray(0, 8)), h8);
      assert.equal(meshAddresses(pair.publicKey).ipv4, ipv4);
    });
  }
  it('TV4 IPv6 is unaffected by the octet adjustments', () => {
    const pair = keyPairFromSeed(createHash('sha256').update('meshguard-vector-15').digest());
    assert.equal(meshAddresses(pair.publicKey).ipv6, 'fd99:6d67::ad:4f1:9d85:e595');
  });
});

describe('TV5 WireGuard key derivation', () => {
  const rows = [
    [
      K1,
      '307c83864f2833cb427a2ef1c00a013cfdff2768d980c0a3a520f006904de94f',
      'd85e07ec22b0ad881537c2f44d662d1a143cf830c57aca4305d85c7a90f6b62e',
    ],
    [
      K2,
      '68bd9ed75882d52815a97585caf4790a7f6c6b3b7f821c5e259a24b02e502e51',
      '25c704c594b88afc00a76b69d1ed2b984d7e22550f3ed0802d04fbcd07d38d47',
    ],
    [
      K3,
      '909a8b755ed902849023a55b15c23d11ba4d7f4ec5c2f51b1325a181991ea95c',
      'cbb22fc9f790bd3eba9b84680c157ca4950a9894362601701f89c3c4d9fda23a',
    ],
  ] as const;
  rows.forEach(([pair, priv, pub], i) => {
    it(`K${i + 1}`, () => {
      const wg = deriveWireGuardKeyPair(pair.seed);
      assert.equal(toHexStr(wg.privateKey), priv);
      assert.equal(toHexStr(wg.publicKey), pub);
    });
  });
  it('K1 WG public key in base64, and the tie-break (K2 initiates)', () => {
    const k1 = deriveWireGuardKeyPair(K1.seed).publicKey;
    const k2 = deriveWireGuardKeyPair(K2.seed).publicKey;
    assert.equal(Buffer.from(k1).toString('base64'), '2F4H7CKwrYgVN8L0TWYtGhQ8+DDFespDBdhcepD2ti4=');
    assert.equal(isTieBreakInitiator(k2, k1), true);
    assert.equal(isTieBreakInitiator(k1, k2), false);
  });
});

const TV6_PAYLOAD =
  '013d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660cd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a6e6f64652d31000000000000000000000000000000000000000000000000000000f1536500000000000000000000000000';
const TV6_SIG =
  'd429f989b9788aba73f484df1355197891f72c66fc7d71301fd22c1ec31ece9e67127dc96a5f26cc862323076b1fa6cad757822ff3bd42420f60607b1bed4c06';

describe('TV6 NodeCertificate v1', () => {
  const cert = issueCertificate(K2, {
    nodePublicKey: K1.publicKey,
    nodeName: 'node-1',
    issuedAt: 1700000000n,
    expiresAt: 0n,
  });
  it('payload and signature byte-exact', () => {
    assert.equal(toHexStr(signedPayload(cert)), TV6_PAYLOAD);
    assert.equal(toHexStr(cert.signature), TV6_SIG);
  });
  it('wire is payload ‖ sig ‖ 8 zeros, then 128 zeros in the 314-byte slot', () => {
    const wire = encodeNodeCertificate(cert);
    assert.equal(wire.length, 314);
    assert.equal(toHexStr(wire), TV6_PAYLOAD + TV6_SIG + '00'.repeat(8) + '00'.repeat(128));
  });
  it('decodes from the 186-byte form and the full slot alike', () => {
    const wire = encodeNodeCertificate(cert);
    for (const bytes of [wire.subarray(0, 186), wire]) {
      const d = decodeNodeCertificate(bytes);
      assert.equal(d.version, 1);
      assert.deepEqual(encodeNodeCertificate(d), wire);
      assert.equal(checkCertificateSignatures(d).ok, true);
    }
  });
});

const TV7_PAYLOAD =
  '023d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660cd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a6e6f64652d31000000000000000000000000000000000000000000000000000000f1536500000000000000000000000000d85e07ec22b0ad881537c2f44d662d1a143cf830c57aca4305d85c7a90f6b62e0000000000000000000000000000000000000000000000000000000000000000';

describe('TV7 NodeCertificate v2 direct', () => {
  const wg = deriveWireGuardKeyPair(K1.seed).publicKey;
  const cert = issueCertificate(K2, {
    nodePublicKey: K1.publicKey,
    nodeName: 'node-1',
    issuedAt: 1700000000n,
    expiresAt: 0n,
    wgPublicKey: wg,
  });
  it('payload, signature and wire hash', () => {
    assert.equal(toHexStr(signedPayload(cert)), TV7_PAYLOAD);
    assert.equal(
      toHexStr(cert.signature),
      '260b4e3677bbd31185c611b6a166d377a9ce715d74916a3a8dedcfef91bdba4e5a00677e4bfbe5de19454e9e330cf94bfe166a34adcd7186c05a587d5b107c05',
    );
    const wire = encodeNodeCertificate(cert);
    assert.equal(sha256(wire), '20fb15bfd5bfdc31e08682f0e028822e0d3908d598beb8f72e1e2afc3f1bfa1b');
    const d = decodeNodeCertificate(wire);
    assert.deepEqual(d.wgPublicKey, wg);
    assert.equal(checkCertificateSignatures(d).ok, true);
  });
});

describe('TV8 NodeCertificate v2 delegated', () => {
  const wg = deriveWireGuardKeyPair(K1.seed).publicKey;
  const cert = issueDelegatedCertificate(K2, K3, {
    nodePublicKey: K1.publicKey,
    nodeName: 'node-1',
    issuedAt: 1700000000n,
    expiresAt: 0n,
    wgPublicKey: wg,
  });
  it('grant, both signatures and wire hash', () => {
    assert.equal(
      toHexStr(grantPayload(cert)),
      '023d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660cfc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025000000000000000001',
    );
    assert.equal(
      toHexStr(cert.delegationSignature),
      'cb0e84cddb2bfcb144e8054d0aa4a0ea4338d7bfc74ba1dd5533900facb01f8871fcd6e39bef9523ac7d3c93860a1bdb04183cf7adec636683e6ea73ba7c4107',
    );
    const leaf = hex(TV7_PAYLOAD);
    leaf[113] = 1;
    leaf.set(K3.publicKey, 146);
    assert.deepEqual(signedPayload(cert), leaf);
    assert.equal(
      toHexStr(cert.signature),
      'e3997f42b441482cf3d975aaf560f7f43101afdf33a2d54255d9cfe991382c89ed8b87451765dbc3dabbb8d556fab273892ae14b4d13e140e25a74cefaf00d08',
    );
    assert.equal(
      sha256(encodeNodeCertificate(cert)),
      '6a72722922569129aec44cfda7e2e2ea0cf2b96064f53d4b68bd8b71c96dc478',
    );
    assert.equal(checkCertificateSignatures(decodeNodeCertificate(encodeNodeCertificate(cert))).ok, true);
  });
});

describe('TV9 OrgCertRevoke', () => {
  const m = signOrgRevoke(K2, K1.publicKey, 2, 1700000000n);
  const SIG =
    'cbe1d40c21c41c647be194104e6ac563aa724634c6d961b03e5975f3095623350aee9336dff9a68322ea8e300e99eff9583c8049fc94987c8e3f8ccca3641802';
  it('signed bytes, signature, wire and file name', () => {
    assert.equal(
      toHexStr(revokeSignedPayload(m)),
      'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a0200f1536500000000',
    );
    assert.equal(toHexStr(m.signature), SIG);
    const wire = encodeOrgMessage(m);
    assert.equal(wire.length, 138);
    assert.equal(
      toHexStr(wire),
      '42' + toHexStr(K2.publicKey) + toHexStr(K1.publicKey) + '02' + '00f1536500000000' + SIG,
    );
    assert.equal(`${orgMessageFileStem(m.nodePublicKey)}.revoke`, 'd75a980182b10ab7.revoke');
    const d = decodeRevocationFile(wire);
    assert.deepEqual(d, m);
    assert.equal(verifyOrgMessage(d), true);
  });
});

describe('TV10 OrgTrustVouch', () => {
  const m = signOrgVouch(K2, K3.publicKey, 1700000000n);
  const SIG =
    '423080cd3af3ddc1a727ed1f3b02ee4d18357ace9904133a4d781f3b0d107c02c13510ae4defb7255e8733f7b8b8d43e018b6d89aa6e67b56dda4fd01bdb2c0a';
  it('signed bytes, signature, file and wire', () => {
    assert.equal(
      toHexStr(vouchSignedPayload(m)),
      'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb91154890802500f1536500000000',
    );
    assert.equal(toHexStr(m.signature), SIG);
    const file = encodeVouchFile(m);
    assert.equal(file.length, 136);
    assert.equal(toHexStr(file), toHexStr(K2.publicKey) + toHexStr(K3.publicKey) + '00f1536500000000' + SIG);
    assert.equal(`${orgMessageFileStem(m.vouchedPublicKey)}.vouch`, 'fc51cd8e6218a1a3.vouch');
    const wire = encodeOrgMessage(m);
    assert.equal(toHexStr(wire), '43' + toHexStr(file));
    assert.deepEqual(decodeOrgMessage(wire), m);
    assert.deepEqual(decodeVouchFile(file), m);
    assert.equal(verifyOrgMessage(m), true);
  });
});

describe('TV11 OrgAliasAnnounce', () => {
  const m = signOrgAlias(K2, 'eosrio', 100n);
  it('signed bytes and signature', () => {
    assert.equal(toHexStr(aliasSignedPayload(m)), '656f7372696f' + '00'.repeat(26) + '6400000000000000');
    assert.equal(
      toHexStr(m.signature),
      '311de9b72f78e0a0e3fcbcf23d0f30f8867c85bc804a3711a7a63df022f97b3f470a57fa5d47addf8d3374df80ee9cf6c8498c66c18dc1e00cbc796c674e0b0b',
    );
    const wire = encodeOrgMessage(m);
    assert.equal(wire.length, 137);
    assert.deepEqual(decodeOrgMessage(wire), m);
    assert.equal(verifyOrgMessage(m), true);
  });
});
