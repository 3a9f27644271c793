import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { deriveWireGuardKeyPair } from '@meshguard/core';
import { ipBytes, requireCapability } from '@meshguard/core/testing';
import { formatUapiRequest, UAPI_ERRNO } from '../../src/wgquick/uapi-framing.js';
import { formatUapiGet, formatUapiSet, parseUapiGet, type UapiSetRequest } from '../../src/wgquick/uapi.js';
import { parseWgQuickConfig, type WgQuickConfig } from '../../src/wgquick/quick-config.js';
import { wgKeyToBase64 } from '../../src/wgquick/key-text.js';
import {
  allAvailable,
  netnsAvailable,
  startWireGuardGo,
  Topology,
  wgAvailable,
  wireguardGoAvailable,
  type WireGuardGoDevice,
} from '../support/netns.js';
import { uapiExchange } from '../support/uapi-client.js';

/**
 * Our UAPI bodies and framing against wireguard-go's socket: what we write it accepts, what it
 * answers we read, and our get formatter reproduces its answer byte for byte.
 */

const keys = (n: number) => deriveWireGuardKeyPair(new Uint8Array(32).fill(n));
const SELF = keys(11);
const PEER_1 = keys(12);
const PEER_2 = keys(13);

/** What `meshguard wg up` will do with a parsed file, for the IP-literal endpoints UAPI carries. */
function toSetRequest(config: WgQuickConfig): UapiSetRequest {
  return {
    device: {
      privateKey: config.interface.privateKey,
      ...(config.interface.listenPort !== null && { listenPort: config.interface.listenPort }),
      replacePeers: true,
    },
    peers: config.peers.map((peer) => {
      const endpoint = peer.endpoint;
      if (endpoint !== null && endpoint.family === 'hostname') throw new Error('resolve host names first');
      return {
        kind: 'upsert' as const,
        publicKey: peer.publicKey,
        updateOnly: false,
        presharedKey: peer.presharedKey,
        ...(endpoint !== null && { endpoint }),
        persistentKeepaliveInterval: peer.persistentKeepalive,
        replaceAllowedIps: true,
        allowedIps: peer.allowedIps,
      };
    }),
  };
}

describe('UAPI against wireguard-go', () => {
  let topology: Topology | undefined;
  let device: WireGuardGoDevice | undefined;
  after(() => topology?.destroy());

  const ready = async (t: { skip: (reason: string) => void }): Promise<WireGuardGoDevice | undefined> => {
    const cap = allAvailable(netnsAvailable(), wireguardGoAvailable(), wgAvailable());
    if (!requireCapability(t, cap.available, cap.reason)) return undefined;
    if (device === undefined) {
      topology = new Topology();
      const ns = topology.namespace('uapi');
      device = await startWireGuardGo(topology, ns, { privateKey: wgKeyToBase64(keys(10).privateKey), listenPort: 0 });
    }
    return device;
  };

  test('a wg-quick file, sent as our set=1, is what wg show and get=1 report', async (t) => {
    const dev = await ready(t);
    if (dev === undefined) return;
    const config = parseWgQuickConfig(
      [
        '[Interface]',
        `PrivateKey = ${wgKeyToBase64(SELF.privateKey)}`,
        'ListenPort = 41820',
        '[Peer]',
        `PublicKey = ${wgKeyToBase64(PEER_1.publicKey)}`,
        `PresharedKey = ${Buffer.alloc(32, 7).toString('base64')}`,
        'Endpoint = 192.0.2.10:51820',
        'AllowedIPs = 10.99.0.12/32, 192.168.10.1/24',
        '[Peer]',
        `PublicKey = ${wgKeyToBase64(PEER_2.publicKey)}`,
        'Endpoint = [2001:db8::13]:51821',
        'AllowedIPs = fd99:6d67::13/128',
      ].join('\n'),
    );
    const [setResponse] = await uapiExchange(dev.socketPath, formatUapiSet(toSetRequest(config)));
    assert.deepEqual(setResponse, { lines: [], errno: 0 });

    const dump = dev.dump();
    assert.equal(dump.interface.publicKey, wgKeyToBase64(SELF.publicKey));
    assert.equal(dump.interface.listenPort, 41820);
    const byKey = new Map(dump.peers.map((p) => [p.publicKey, p]));
    assert.deepEqual(byKey.get(wgKeyToBase64(PEER_1.publicKey))?.allowedIps, ['10.99.0.12/32', '192.168.10.0/24']);
    assert.equal(byKey.get(wgKeyToBase64(PEER_1.publicKey))?.endpoint, '192.0.2.10:51820');
    assert.equal(byKey.get(wgKeyToBase64(PEER_2.publicKey))?.endpoint, '[2001:db8::13]:51821');

    const [getResponse] = await uapiExchange(dev.socketPath, formatUapiRequest({ command: 'get' }));
    assert.ok(getResponse !== undefined);
    assert.equal(getResponse.errno, 0);
    const snapshot = parseUapiGet(getResponse.lines);
    assert.deepEqual(snapshot.privateKey, config.interface.privateKey);
    assert.equal(snapshot.listenPort, 41820);
    assert.equal(snapshot.fwmark, 0);
    const peers = [...snapshot.peers].sort((a, b) => Buffer.compare(a.publicKey, b.publicKey));
    const expected = [...config.peers].sort((a, b) => Buffer.compare(a.publicKey, b.publicKey));
    assert.deepEqual(
      peers.map((p) => ({ publicKey: p.publicKey, psk: p.presharedKey, endpoint: p.endpoint, ips: p.allowedIps })),
      expected.map((p) => ({ publicKey: p.publicKey, psk: p.presharedKey, endpoint: p.endpoint, ips: p.allowedIps })),
    );
    // Our formatter writes wireguard-go's own answer back, line for line.
    const raw = [...getResponse.lines, 'errno=0', '', ''].join('\n');
    assert.equal(formatUapiGet(snapshot), raw);
  });

  test('removal, update_only and replace_allowed_ips mean what wireguard-go does with them', async (t) => {
    const dev = await ready(t);
    if (dev === undefined) return;
    const start: UapiSetRequest = {
      device: { replacePeers: true },
      peers: [PEER_1, PEER_2].map((p, i) => ({
        kind: 'upsert' as const,
        publicKey: p.publicKey,
        updateOnly: false,
        presharedKey: new Uint8Array(32).fill(9),
        replaceAllowedIps: false,
        allowedIps: [{ family: 4 as const, address: ipBytes(`10.0.${i}.0`), prefixLength: 24 }],
      })),
    };
    assert.deepEqual(await uapiExchange(dev.socketPath, formatUapiSet(start)), [{ lines: [], errno: 0 }]);
    const request: UapiSetRequest = {
      device: { replacePeers: false },
      peers: [
        { kind: 'remove', publicKey: PEER_2.publicKey },
        {
          kind: 'upsert',
          publicKey: keys(14).publicKey,
          updateOnly: true, // does not exist, so nothing happens
          replaceAllowedIps: false,
          allowedIps: [{ family: 4, address: ipBytes('10.14.0.0'), prefixLength: 16 }],
        },
        {
          kind: 'upsert',
          publicKey: PEER_1.publicKey,
          updateOnly: true,
          presharedKey: null,
          persistentKeepaliveInterval: 0,
          replaceAllowedIps: true,
          allowedIps: [{ family: 6, address: ipBytes('::'), prefixLength: 0 }],
        },
      ],
    };
    // Two connections, not one write: wireguard-go reads a set body through a read-ahead
    // scanner that swallows whatever follows it, so it cannot take pipelined requests.
    assert.deepEqual(await uapiExchange(dev.socketPath, formatUapiSet(request)), [{ lines: [], errno: 0 }]);
    const [getResponse] = await uapiExchange(dev.socketPath, formatUapiRequest({ command: 'get' }));
    assert.ok(getResponse !== undefined);
    const snapshot = parseUapiGet(getResponse.lines);
    assert.equal(snapshot.peers.length, 1);
    const peer = snapshot.peers[0]!;
    assert.deepEqual(peer.publicKey, PEER_1.publicKey);
    assert.equal(peer.presharedKey, null);
    assert.deepEqual(peer.allowedIps, [{ family: 6, address: ipBytes('::'), prefixLength: 0 }]);
  });

  test('a request wireguard-go refuses comes back as a negative errno', async (t) => {
    const dev = await ready(t);
    if (dev === undefined) return;
    const [response] = await uapiExchange(dev.socketPath, formatUapiRequest({ command: 'set', lines: ['bogus=1'] }));
    assert.deepEqual(response, { lines: [], errno: UAPI_ERRNO.invalid });
  });
});
