import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toHex } from '@meshguard/core';
import type { NatType } from '../../src/nat/nat-type.js';
import { PathManager, type PathPeer, type RelayCandidate } from '../../src/nat/path-manager.js';
import type { UdpEndpoint } from '../../src/wireguard/endpoint.js';

const key = (n: number): Uint8Array => new Uint8Array(32).fill(n);
const ep = (address: string): UdpEndpoint => ({ address, port: 51821 });
const R1: RelayCandidate = { publicKey: key(0x31), endpoint: ep('203.0.113.31'), rttMs: 40 };
const R2: RelayCandidate = { publicKey: key(0x32), endpoint: ep('203.0.113.32'), rttMs: 5 };

function setup(self: Uint8Array, ownNat: NatType, opts: { punchWorks?: boolean } = {}) {
  const actions: string[] = [];
  let active = false;
  const pm = new PathManager({
    self,
    ownNatType: () => ownNat,
    relayCandidates: () => [R1, R2],
    punch: () => {
      actions.push('punch');
      active = opts.punchWorks ?? true;
      return true;
    },
    punchActive: () => active,
    useRelay: (_peer, relay) => actions.push(`relay ${toHex(relay.publicKey).slice(0, 2)}`),
    useDirect: (_peer, endpoint) => actions.push(`direct ${endpoint.address}`),
    log: () => undefined,
  });
  return {
    pm,
    actions,
    endPunch: () => {
      active = false;
    },
  };
}

const peer = (over: Partial<PathPeer> = {}): PathPeer => ({
  publicKey: key(0x50),
  natType: 'cone',
  lastHandshakeAt: null,
  deviceEndpoint: ep('198.51.100.2'),
  ...over,
});

describe('PathManager', () => {
  it('leaves a peer that handshakes directly alone: path direct', () => {
    const { pm, actions } = setup(key(1), 'cone');
    pm.added(key(0x50), 0);
    pm.tick([peer({ lastHandshakeAt: 1000 })], 10_000);
    assert.deepEqual(actions, []);
    assert.equal(pm.pathOf(peer({ lastHandshakeAt: 1000 }), 10_000), 'direct');
    assert.equal(pm.pathOf(peer(), 10_000), 'connecting');
  });

  it('symmetric NAT: after the direct grace, the relay with the lowest RTT', () => {
    const { pm, actions } = setup(key(1), 'symmetric');
    pm.added(key(0x50), 0);
    pm.tick([peer()], 5999);
    assert.deepEqual(actions, []);
    pm.tick([peer()], 6000);
    assert.deepEqual(actions, ['relay 32']);
    assert.equal(pm.pathOf(peer({ deviceEndpoint: { address: '100::1', port: 1 } }), 6000), 'relay');
  });

  it('a relay that carries no handshake is replaced by the next', () => {
    const { pm, actions } = setup(key(1), 'symmetric');
    pm.added(key(0x50), 0);
    pm.tick([peer()], 6000);
    const relayed = peer({ deviceEndpoint: { address: '100::1', port: 1 } });
    pm.tick([relayed], 17_999);
    pm.tick([relayed], 18_000);
    assert.deepEqual(actions, ['relay 32', 'relay 31']);
  });

  it('two cone NATs: the smaller key punches; success moves the peer to the punched endpoint', () => {
    const { pm, actions, endPunch } = setup(key(1), 'cone');
    pm.added(key(0x50), 0);
    pm.tick([peer()], 6000);
    assert.deepEqual(actions, ['punch']);
    endPunch();
    pm.punched(key(0x50), ep('198.51.100.2'), 6500);
    assert.deepEqual(actions, ['punch', 'direct 198.51.100.2']);
    assert.equal(pm.pathOf(peer({ lastHandshakeAt: 6600 }), 7000), 'punched');
  });

  it('the larger key waits for the other side to punch before settling for a relay', () => {
    const { pm, actions } = setup(key(0x90), 'cone');
    pm.added(key(0x50), 0);
    pm.tick([peer()], 6000);
    pm.tick([peer()], 11_999);
    assert.deepEqual(actions, []);
    pm.tick([peer()], 12_000);
    assert.deepEqual(actions, ['relay 32']);
  });

  it('a failed punch falls back to a relay, and the relayed pair keeps trying to punch with backoff', () => {
    const { pm, actions, endPunch } = setup(key(1), 'cone');
    pm.added(key(0x50), 0);
    pm.tick([peer()], 6000);
    endPunch();
    pm.punchFailed(key(0x50), 9000);
    pm.tick([peer()], 9000);
    assert.deepEqual(actions, ['punch', 'relay 32']);
    const relayedUp = peer({ deviceEndpoint: { address: '100::1', port: 1 }, lastHandshakeAt: 10_000 });
    pm.tick([relayedUp], 20_000);
    assert.deepEqual(actions, ['punch', 'relay 32'], 'backoff: 15 s after the failure');
    pm.tick([relayedUp], 24_000);
    assert.deepEqual(actions, ['punch', 'relay 32', 'punch']);
  });
});
