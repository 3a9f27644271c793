import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  deriveWireGuardKeyPair,
  encodeBase64,
  encodeNodeCertificate,
  generateKeyPair,
  issueCertificate,
} from '@meshguard/core';
import { validateMeshNode, type MeshNode } from '@meshguard/core/kube';
import { acceptCertificate, ownMeshNodeApply } from '../../src/kube-agent/own-mesh-node.js';

const org = generateKeyPair();
const otherOrg = generateKeyPair();
const identity = generateKeyPair();
const wg = deriveWireGuardKeyPair(new Uint8Array(32).fill(7));
const oldWg = deriveWireGuardKeyPair(new Uint8Array(32).fill(8));
const keys = { publicKey: identity.publicKey, wgPublicKey: wg.publicKey };
const NOW = 1_800_000_000n;

function certificate(
  options: { signer?: typeof org; wgPublicKey?: Uint8Array | null; expiresAt?: bigint; node?: Uint8Array } = {},
): string {
  const wgKey = options.wgPublicKey === undefined ? wg.publicKey : options.wgPublicKey;
  return encodeBase64(
    encodeNodeCertificate(
      issueCertificate(options.signer ?? org, {
        nodePublicKey: options.node ?? identity.publicKey,
        nodeName: 'node-a',
        issuedAt: NOW - 60n,
        expiresAt: options.expiresAt ?? NOW + 3600n,
        ...(wgKey !== null && { wgPublicKey: wgKey }),
      }),
    ),
  );
}

function node(status: MeshNode['status'], spec: Partial<MeshNode['spec']> = {}): MeshNode {
  return {
    apiVersion: 'meshguard.dev/v1alpha1',
    kind: 'MeshNode',
    metadata: { name: 'node-a' },
    spec: { org: 'acme', publicKey: encodeBase64(identity.publicKey), nodeName: 'node-a', ...spec },
    ...(status !== undefined && { status }),
  };
}

describe('the agent’s own MeshNode', () => {
  it('applies a spec the API validation accepts, naming only the fields the agent owns', () => {
    const body = ownMeshNodeApply('node-a', 'acme', keys);
    assert.deepEqual(validateMeshNode(body), []);
    assert.deepEqual(Object.keys((body as { spec: object }).spec).sort(), [
      'nodeName',
      'org',
      'publicKey',
      'wireguardPublicKey',
    ]);
  });

  it('accepts only a current v2 certificate from its org, for its identity and this start’s WireGuard key', () => {
    const verdict = (n: MeshNode | undefined, orgKey: Uint8Array | null = org.publicKey): string => {
      const v = acceptCertificate(n, keys, orgKey ?? undefined, NOW);
      return v.kind === 'ok' ? 'ok' : `${v.kind}: ${v.reason}`;
    };
    assert.equal(verdict(node({ certificate: certificate() })), 'ok');
    assert.match(verdict(undefined), /^waiting: own MeshNode not found/);
    assert.match(verdict(node({ certificate: certificate() }, { revoked: true })), /^revoked/);
    assert.match(
      verdict(
        node({
          conditions: [
            {
              type: 'Ready',
              status: 'False',
              reason: 'PendingApproval',
              message: 'waiting for approval',
              lastTransitionTime: '2026-11-25T00:00:00Z',
              observedGeneration: 1,
            },
          ],
        }),
      ),
      /^waiting: no certificate yet \(PendingApproval: waiting for approval\)/,
    );
    assert.match(verdict(node({ certificate: certificate() }), null), /org public key is not known/);
    assert.match(
      verdict(node({ certificate: certificate({ wgPublicKey: oldWg.publicKey }) })),
      /earlier WireGuard key/,
    );
    assert.match(verdict(node({ certificate: certificate({ wgPublicKey: null }) })), /v1; the agent needs v2/);
    assert.match(verdict(node({ certificate: certificate({ signer: otherOrg }) })), /refused: .*not trusted/);
    assert.match(verdict(node({ certificate: certificate({ expiresAt: NOW - 1n }) })), /refused: .*expired/);
    assert.match(
      verdict(node({ certificate: certificate({ node: generateKeyPair().publicKey }) })),
      /refused: .*different node key/,
    );
    assert.match(verdict(node({ certificate: 'bm90IGEgY2VydGlmaWNhdGU=' })), /does not decode/);
  });
});
