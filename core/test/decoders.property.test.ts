import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  decodeBase64Exact,
  decodeNodeCertificate,
  decodeOrgMessage,
  decodePublicKeyText,
  decodeRevocationFile,
  decodeSecretKeyFile,
  decodeVouchFile,
  encodeNodeCertificate,
  encodeOrgMessage,
  encodeVouchFile,
  MeshguardError,
  parseDuration,
  signOrgRevoke,
  signOrgVouch,
  signOrgAlias,
  fromHex,
  issueCertificate,
  keyPairFromSeed,
  verifyOrgMessage,
  checkCertificateSignatures,
} from '../src/index.js';

/** Any input → a value or a typed MeshguardError; anything else thrown fails the property. */
function totalOrTyped<T>(decode: (input: T) => unknown): (input: T) => void {
  return (input) => {
    try {
      decode(input);
    } catch (err) {
      if (!(err instanceof MeshguardError)) throw err;
    }
  };
}

const RUNS = { numRuns: 2000 };
const bytes = (max: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength: max });
/** Inputs near the decoders' interesting lengths, with the right type byte, hit deeper paths. */
const taggedBytes = (tag: number, length: number): fc.Arbitrary<Uint8Array> =>
  fc.uint8Array({ minLength: length - 2, maxLength: length + 2 }).map((b) => {
    if (b.length > 0) b[0] = tag;
    return b;
  });

describe('decoders never crash (property)', () => {
  it('decodeBase64Exact', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 100 }), fc.nat(70), (s, n) =>
        totalOrTyped(() => decodeBase64Exact(s, n, 'x'))(s),
      ),
      RUNS,
    );
  });
  it('decodePublicKeyText on arbitrary and base64-shaped strings', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), totalOrTyped(decodePublicKeyText)), RUNS);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (b) =>
        totalOrTyped(decodePublicKeyText)(`${Buffer.from(b).toString('base64')}\n`),
      ),
      RUNS,
    );
  });
  it('decodeSecretKeyFile', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), (b) =>
        totalOrTyped(decodeSecretKeyFile)(Buffer.from(b).toString('base64')),
      ),
      { numRuns: 300 },
    );
    fc.assert(fc.property(fc.string({ maxLength: 120 }), totalOrTyped(decodeSecretKeyFile)), RUNS);
  });
  it('decodeNodeCertificate', () => {
    fc.assert(fc.property(bytes(400), totalOrTyped(decodeNodeCertificate)), RUNS);
    fc.assert(fc.property(taggedBytes(2, 314), totalOrTyped(decodeNodeCertificate)), RUNS);
    fc.assert(fc.property(taggedBytes(1, 186), totalOrTyped(decodeNodeCertificate)), RUNS);
  });
  it('signature checks on decoded random certificates never throw', () => {
    fc.assert(
      fc.property(taggedBytes(2, 314), (b) => {
        try {
          checkCertificateSignatures(decodeNodeCertificate(b));
        } catch (err) {
          if (!(err instanceof MeshguardError)) throw err;
        }
      }),
      { numRuns: 200 },
    );
  });
  it('decodeOrgMessage / revocation / vouch files', () => {
    fc.assert(fc.property(bytes(200), totalOrTyped(decodeOrgMessage)), RUNS);
    for (const [tag, len] of [
      [0x41, 137],
      [0x42, 138],
      [0x43, 137],
    ] as const) {
      fc.assert(
        fc.property(taggedBytes(tag, len), (b) => {
          try {
            const m = decodeOrgMessage(b);
            assert.equal(verifyOrgMessage(m), false);
          } catch (err) {
            if (!(err instanceof MeshguardError)) throw err;
          }
        }),
        { numRuns: 200 },
      );
    }
    fc.assert(fc.property(bytes(200), totalOrTyped(decodeRevocationFile)), RUNS);
    fc.assert(fc.property(fc.uint8Array({ minLength: 134, maxLength: 138 }), totalOrTyped(decodeVouchFile)), RUNS);
  });
  it('parseDuration', () => {
    fc.assert(fc.property(fc.string({ maxLength: 30 }), totalOrTyped(parseDuration)), RUNS);
  });
});

const org = keyPairFromSeed(fromHex('11'.repeat(32), 32, 'org'));

describe('round trips (property)', () => {
  const seed = fc.uint8Array({ minLength: 32, maxLength: 32 });
  it('certificates', () => {
    fc.assert(
      fc.property(
        seed,
        fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/),
        fc.bigInt({ min: 1n, max: 1n << 40n }),
        fc.option(fc.bigInt({ min: 1n, max: 1n << 40n })),
        fc.option(fc.uint8Array({ minLength: 32, maxLength: 32 }).filter((b) => b.some((x) => x !== 0))),
        (nodeSeed, name, issuedAt, lifetime, wg) => {
          const cert = issueCertificate(org, {
            nodePublicKey: keyPairFromSeed(nodeSeed).publicKey,
            nodeName: name,
            issuedAt,
            expiresAt: lifetime === null ? 0n : issuedAt + lifetime,
            ...(wg === null ? {} : { wgPublicKey: wg }),
          });
          const wire = encodeNodeCertificate(cert);
          const back = decodeNodeCertificate(wire);
          assert.deepEqual(back, cert);
          assert.equal(checkCertificateSignatures(back).ok, true);
          if (cert.version === 1) assert.deepEqual(decodeNodeCertificate(wire.subarray(0, 186)), cert);
        },
      ),
      { numRuns: 100 },
    );
  });
  it('org messages', () => {
    fc.assert(
      fc.property(
        seed,
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.integer({ min: 0, max: 2 }),
        (s, lamport, reason) => {
          const key = keyPairFromSeed(s).publicKey;
          const revoke = signOrgRevoke(org, key, reason, lamport);
          assert.deepEqual(decodeOrgMessage(encodeOrgMessage(revoke)), revoke);
          assert.deepEqual(decodeRevocationFile(encodeOrgMessage(revoke)), revoke);
          const vouch = signOrgVouch(org, key, lamport);
          assert.deepEqual(decodeOrgMessage(encodeOrgMessage(vouch)), vouch);
          assert.deepEqual(decodeVouchFile(encodeVouchFile(vouch)), vouch);
          const alias = signOrgAlias(org, 'db', lamport);
          assert.deepEqual(decodeOrgMessage(encodeOrgMessage(alias)), alias);
          for (const m of [revoke, vouch, alias]) assert.equal(verifyOrgMessage(m), true);
        },
      ),
      { numRuns: 50 },
    );
  });
});
