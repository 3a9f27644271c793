import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeBase64, generateKeyPair } from '@meshguard/core';
import type { MeshNode } from '@meshguard/core/kube';
import { sameSeeds, seedsFromMeshNodes } from '../../src/kube-agent/seed-list.js';

const self = generateKeyPair().publicKey;

function node(
  name: string,
  options: { org?: string; key?: Uint8Array; endpoint?: string; cert?: boolean; revoked?: boolean },
): MeshNode {
  return {
    apiVersion: 'meshguard.dev/v1alpha1',
    kind: 'MeshNode',
    metadata: { name },
    spec: {
      org: options.org ?? 'acme',
      publicKey: encodeBase64(options.key ?? generateKeyPair().publicKey),
      nodeName: name,
      ...(options.revoked === true && { revoked: true }),
    },
    status: {
      ...(options.endpoint !== undefined && { endpoint: options.endpoint }),
      ...(options.cert !== false && { certificate: 'x' }),
    },
  };
}

describe('seeds from MeshNodes', () => {
  it('takes the certified, unrevoked nodes of our org with an endpoint, except ourselves, sorted', () => {
    const seeds = seedsFromMeshNodes(
      [
        node('b', { endpoint: '10.0.0.2:51821' }),
        node('a', { endpoint: '10.0.0.1:51821' }),
        node('self', { key: self, endpoint: '10.0.0.9:51821' }),
        node('other-org', { org: 'evil', endpoint: '10.0.0.3:51821' }),
        node('revoked', { revoked: true, endpoint: '10.0.0.4:51821' }),
        node('uncertified', { cert: false, endpoint: '10.0.0.5:51821' }),
        node('no-endpoint', {}),
        node('garbage', { endpoint: 'not an endpoint' }),
        node('dup', { endpoint: '10.0.0.1:51821' }),
      ],
      'acme',
      self,
    );
    assert.deepEqual(seeds, [
      { address: '10.0.0.1', port: 51821 },
      { address: '10.0.0.2', port: 51821 },
    ]);
    assert.ok(sameSeeds(seeds, [...seeds]));
    assert.ok(!sameSeeds(seeds, seeds.slice(1)));
  });
});
