import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encodeNodeCertificate, fromHex, issueCertificate, keyPairFromSeed, MeshguardError } from '@meshguard/core';
import { parseCertificateInput } from '../../src/cli/commands/cert.js';

const org = keyPairFromSeed(fromHex('66'.repeat(32), 32, 'org'));
const node = keyPairFromSeed(fromHex('77'.repeat(32), 32, 'node'));
const cert = issueCertificate(org, { nodePublicKey: node.publicKey, nodeName: 'n', issuedAt: 1n, expiresAt: 0n });
const wire = encodeNodeCertificate(cert);

describe('parseCertificateInput', () => {
  it('accepts the raw slot, the 186-byte form and base64 of either', () => {
    for (const input of [
      wire,
      wire.subarray(0, 186),
      new TextEncoder().encode(`${Buffer.from(wire).toString('base64')}\n`),
      new TextEncoder().encode(Buffer.from(wire.subarray(0, 186)).toString('base64')),
    ]) {
      assert.deepEqual(parseCertificateInput(input, 'x'), cert);
    }
  });
  it('property: any bytes give a certificate or a typed error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 520 }), (b) => {
        try {
          parseCertificateInput(b, 'x');
        } catch (err) {
          if (!(err instanceof MeshguardError)) throw err;
        }
      }),
      { numRuns: 2000 },
    );
  });
});
