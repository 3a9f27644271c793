import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ArgumentError, DecodeError, MeshguardError } from '@meshguard/core';
import { ipBytes } from '@meshguard/core/testing';
import { takeUapiRequest, takeUapiResponse } from '../../src/wgquick/uapi-framing.js';
import {
  formatUapiGet,
  formatUapiSet,
  parseUapiGet,
  parseUapiSet,
  type UapiDeviceSnapshot,
  type UapiPeerSnapshot,
} from '../../src/wgquick/uapi.js';
import { assertDecodeError, decodesOrRejects } from '../swim/spec-fixtures.js';
import { arbDeviceSnapshot, arbSetRequest } from './arbitraries.js';

const key = (byte: number): Uint8Array => new Uint8Array(32).fill(byte);
const hexOf = (byte: number): string => byte.toString(16).padStart(2, '0').repeat(32);

/** Request text → the lines parseUapiSet takes, through the real framing. */
function setLines(text: string): readonly string[] {
  const taken = takeUapiRequest(text);
  assert.ok(taken !== null && taken.message.command === 'set');
  assert.equal(taken.rest, '');
  return taken.message.lines;
}

/** Response text → the lines parseUapiGet takes, through the real framing. */
function getLines(text: string): readonly string[] {
  const taken = takeUapiResponse(text);
  assert.ok(taken !== null);
  assert.equal(taken.message.errno, 0);
  assert.equal(taken.rest, '');
  return taken.message.lines;
}

const PEER_1: UapiPeerSnapshot = {
  publicKey: key(0xb8),
  presharedKey: key(0x18),
  endpoint: { family: 4, address: '203.0.113.7', port: 51820 },
  lastHandshakeTimeSec: 1_700_000_123n,
  lastHandshakeTimeNsec: 456_789_012,
  txBytes: 38_333n,
  rxBytes: 2_224n,
  persistentKeepaliveInterval: 25,
  allowedIps: [
    { family: 4, address: ipBytes('10.99.0.2'), prefixLength: 32 },
    { family: 6, address: ipBytes('fd99:6d67::2'), prefixLength: 128 },
  ],
};
const PEER_2: UapiPeerSnapshot = {
  publicKey: key(0x58),
  presharedKey: null,
  endpoint: null,
  lastHandshakeTimeSec: 0n,
  lastHandshakeTimeNsec: 0,
  txBytes: 0n,
  rxBytes: 0n,
  persistentKeepaliveInterval: 0,
  allowedIps: [],
};
const DEVICE: UapiDeviceSnapshot = { privateKey: key(0xe8), listenPort: 51821, fwmark: 0, peers: [PEER_1, PEER_2] };

describe('get=1 responses', () => {
  test('a realistic device, line by line, in wireguard-go order', () => {
    const lines = formatUapiGet(DEVICE).split('\n');
    const expected = [
      `private_key=${hexOf(0xe8)}`,
      'listen_port=51821',
      `public_key=${hexOf(0xb8)}`,
      `preshared_key=${hexOf(0x18)}`,
      'protocol_version=1',
      'endpoint=203.0.113.7:51820',
      'last_handshake_time_sec=1700000123',
      'last_handshake_time_nsec=456789012',
      'tx_bytes=38333',
      'rx_bytes=2224',
      'persistent_keepalive_interval=25',
      'allowed_ip=10.99.0.2/32',
      'allowed_ip=fd99:6d67::2/128',
      `public_key=${hexOf(0x58)}`,
      `preshared_key=${'0'.repeat(64)}`,
      'protocol_version=1',
      'last_handshake_time_sec=0',
      'last_handshake_time_nsec=0',
      'tx_bytes=0',
      'rx_bytes=0',
      'persistent_keepalive_interval=0',
      'errno=0',
      '',
      '',
    ];
    assert.equal(lines.length, expected.length);
    expected.forEach((line, i) => assert.equal(lines[i], line, `line ${i + 1}`));
  });

  test('fwmark and an IPv6 endpoint; no private key, port or peers', () => {
    const device: UapiDeviceSnapshot = {
      privateKey: null,
      listenPort: 0,
      fwmark: 0xffffffff,
      peers: [{ ...PEER_2, endpoint: { family: 6, address: '2001:db8::1', port: 1 } }],
    };
    const text = formatUapiGet(device);
    assert.match(text, /^fwmark=4294967295\npublic_key=/);
    assert.match(text, /\nendpoint=\[2001:db8::1\]:1\n/);
    assert.equal(formatUapiGet({ privateKey: null, listenPort: 0, fwmark: 0, peers: [] }), 'errno=0\n\n');
  });

  test('round trip: parseUapiGet(format(snapshot)) equals snapshot', () => {
    assert.deepEqual(parseUapiGet(getLines(formatUapiGet(DEVICE))), DEVICE);
    fc.assert(
      fc.property(arbDeviceSnapshot, (device) => {
        assert.deepEqual(parseUapiGet(getLines(formatUapiGet(device))), device);
      }),
    );
  });

  test('the formatter refuses what the protocol cannot carry', () => {
    const bad: [UapiDeviceSnapshot, RegExp][] = [
      [{ ...DEVICE, listenPort: 65536 }, /listen_port/],
      [{ ...DEVICE, fwmark: -1 }, /fwmark/],
      [{ ...DEVICE, privateKey: new Uint8Array(31) }, /32 bytes/],
      [{ ...DEVICE, peers: [{ ...PEER_1, txBytes: 1n << 64n }] }, /tx_bytes/],
      [{ ...DEVICE, peers: [{ ...PEER_1, rxBytes: -1n }] }, /rx_bytes/],
      [{ ...DEVICE, peers: [{ ...PEER_1, lastHandshakeTimeSec: -1n }] }, /last_handshake_time_sec/],
      [{ ...DEVICE, peers: [{ ...PEER_1, lastHandshakeTimeNsec: 1e9 }] }, /last_handshake_time_nsec/],
      [{ ...DEVICE, peers: [{ ...PEER_1, persistentKeepaliveInterval: 1.5 }] }, /persistent_keepalive/],
      [{ ...DEVICE, peers: [{ ...PEER_1, endpoint: { family: 4, address: '1.2.3', port: 1 } }] }, /not an IP/],
      [{ ...DEVICE, peers: [{ ...PEER_1, endpoint: { family: 4, address: '1.2.3.4', port: 0 } }] }, /port/],
      [
        { ...DEVICE, peers: [{ ...PEER_1, allowedIps: [{ family: 4, address: ipBytes('::'), prefixLength: 0 }] }] },
        /IPv4/,
      ],
      [
        { ...DEVICE, peers: [{ ...PEER_1, allowedIps: [{ family: 6, address: ipBytes('::'), prefixLength: 129 }] }] },
        /129/,
      ],
    ];
    for (const [device, message] of bad) {
      assert.throws(
        () => formatUapiGet(device),
        (err: unknown) => err instanceof ArgumentError && message.test(err.message),
        String(message),
      );
    }
  });

  test('the parser reads what wg reads, skips unknown keys, refuses the rest', () => {
    const pk = `public_key=${hexOf(1)}`;
    // Uppercase hex is read; keys wg does not know (an AmneziaWG option here) are skipped.
    const parsed = parseUapiGet(['jc=4', `private_key=${hexOf(0xab).toUpperCase()}`, pk, 'future_key=x']);
    assert.deepEqual(parsed.privateKey, key(0xab));
    assert.equal(parsed.peers.length, 1);
    assert.equal(parseUapiGet([`private_key=${'0'.repeat(64)}`]).privateKey, null);
    const cases: [string[], RegExp][] = [
      [['listen_port'], /expected key=value/],
      [['=1'], /expected key=value/],
      [['listen_port=65536'], /UAPI line 1: listen_port: "65536"/],
      [['listen_port=-1'], /listen_port/],
      [['listen_port=1', 'listen_port=2'], /given twice/],
      [['fwmark=4294967296'], /fwmark/],
      [['private_key=abc'], /64 hex digits/],
      [['tx_bytes=1'], /before any public_key/],
      [['allowed_ip=10.0.0.0/8'], /before any public_key/],
      [[pk, 'listen_port=1'], /after the first public_key/],
      [[pk, 'errno=0'], /inside the response body/],
      [[pk, 'protocol_version=2'], /unknown version "2"/],
      [[pk, 'tx_bytes=18446744073709551616'], /tx_bytes/],
      [[pk, 'rx_bytes=1', 'rx_bytes=1'], /given twice/],
      [[pk, 'last_handshake_time_sec=9223372036854775808'], /last_handshake_time_sec/],
      [[pk, 'last_handshake_time_nsec=1000000000'], /last_handshake_time_nsec/],
      [[pk, 'persistent_keepalive_interval=65536'], /persistent_keepalive_interval/],
      [[pk, 'endpoint=host.example:1'], /not an IP/],
      [[pk, 'endpoint=[fe80::1%2]:1'], /zone/],
      [[pk, 'allowed_ip=10.0.0.1'], /no \/prefix length/],
      [[pk, 'preshared_key=xyz'], /preshared_key/],
      [['public_key=00'], /public_key: expected 64 hex digits/],
    ];
    for (const [lines, message] of cases) assertDecodeError(() => parseUapiGet(lines), message);
  });

  test('any lines parse to a snapshot or a DecodeError', () => {
    const keys = fc.constantFrom(
      'private_key',
      'listen_port',
      'fwmark',
      'public_key',
      'preshared_key',
      'protocol_version',
      'endpoint',
      'last_handshake_time_sec',
      'last_handshake_time_nsec',
      'tx_bytes',
      'rx_bytes',
      'persistent_keepalive_interval',
      'allowed_ip',
      'errno',
      'x',
    );
    const values = fc.oneof(
      fc.constantFrom(hexOf(7), '0', '1', '65535', '10.0.0.0/8', '[::1]:1', '1.2.3.4:5', ''),
      fc.string({ maxLength: 70 }),
    );
    const line = fc.oneof(
      fc.tuple(keys, values).map(([k, v]) => `${k}=${v}`),
      fc.string({ maxLength: 20 }),
    );
    fc.assert(fc.property(fc.array(line, { maxLength: 16 }), (lines) => decodesOrRejects(() => parseUapiGet(lines))));
  });
});

describe('set=1 requests', () => {
  test('what `wg set` writes becomes typed changes', () => {
    const text = [
      'set=1',
      `private_key=${hexOf(0xe8)}`,
      'listen_port=51820',
      'fwmark=0',
      'replace_peers=true',
      `public_key=${hexOf(0xb8)}`,
      `preshared_key=${hexOf(0x18)}`,
      'endpoint=[2001:db8::1]:51820',
      'persistent_keepalive_interval=25',
      'replace_allowed_ips=true',
      'allowed_ip=10.99.0.2/32',
      'allowed_ip=192.168.7.99/24',
      `public_key=${hexOf(0x58)}`,
      'remove=true',
      `public_key=${hexOf(0x66)}`,
      'update_only=true',
      `preshared_key=${'0'.repeat(64)}`,
      'protocol_version=1',
      '',
      '',
    ].join('\n');
    assert.deepEqual(parseUapiSet(setLines(text)), {
      device: { privateKey: key(0xe8), listenPort: 51820, fwmark: 0, replacePeers: true },
      peers: [
        {
          kind: 'upsert',
          publicKey: key(0xb8),
          updateOnly: false,
          presharedKey: key(0x18),
          endpoint: { family: 6, address: '2001:db8::1', port: 51820 },
          persistentKeepaliveInterval: 25,
          replaceAllowedIps: true,
          allowedIps: [
            { family: 4, address: ipBytes('10.99.0.2'), prefixLength: 32 },
            { family: 4, address: ipBytes('192.168.7.0'), prefixLength: 24 },
          ],
        },
        { kind: 'remove', publicKey: key(0x58) },
        {
          kind: 'upsert',
          publicKey: key(0x66),
          updateOnly: true,
          presharedKey: null,
          replaceAllowedIps: false,
          allowedIps: [],
        },
      ],
    });
  });

  test('wireguard-go semantics: clearing, replacing, removing, repeating', () => {
    const pk = `public_key=${hexOf(1)}`;
    assert.deepEqual(parseUapiSet([`private_key=${'0'.repeat(64)}`]).device, { privateKey: null, replacePeers: false });
    assert.deepEqual(parseUapiSet(['listen_port=1', 'listen_port=2']).device, { listenPort: 2, replacePeers: false });
    assert.deepEqual(parseUapiSet([]), { device: { replacePeers: false }, peers: [] });
    // replace_allowed_ips also drops what this request added before it.
    const replaced = parseUapiSet([pk, 'allowed_ip=10.0.0.0/8', 'replace_allowed_ips=true', 'allowed_ip=::/0']);
    assert.deepEqual(replaced.peers[0], {
      kind: 'upsert',
      publicKey: key(1),
      updateOnly: false,
      replaceAllowedIps: true,
      allowedIps: [{ family: 6, address: ipBytes('::'), prefixLength: 0 }],
    });
    // Keys after remove are still checked, then dropped with the peer.
    assert.deepEqual(parseUapiSet([pk, 'endpoint=1.2.3.4:5', 'remove=true', 'allowed_ip=1.0.0.0/8']).peers, [
      { kind: 'remove', publicKey: key(1) },
    ]);
    assertDecodeError(() => parseUapiSet([pk, 'remove=true', 'allowed_ip=bad']), /allowed_ip/);
    assert.equal(parseUapiSet([pk, pk]).peers.length, 2);
  });

  test('refusals name the line', () => {
    const pk = `public_key=${hexOf(1)}`;
    const cases: [string[], RegExp][] = [
      [['private_key'], /UAPI line 1: expected key=value/],
      [['=x'], /line 1: expected key=value/],
      [['get=1'], /"get" is not a device key/],
      [['preshared_key=00'], /"preshared_key" is not a device key/],
      [[pk, 'private_key=00'], /line 2: "private_key" is not a peer key/],
      [[pk, 'replace_peers=true'], /"replace_peers" is not a peer key/],
      [[pk, 'last_handshake_time_sec=0'], /not a peer key/],
      [['replace_peers=false'], /replace_peers: the only accepted value is "true"/],
      [[pk, 'remove=false'], /remove: the only accepted value/],
      [[pk, 'update_only=1'], /update_only/],
      [[pk, 'replace_allowed_ips=TRUE'], /replace_allowed_ips/],
      [[pk, 'protocol_version=2'], /only protocol version 1/],
      [['listen_port=65536'], /listen_port/],
      [['listen_port=+1'], /listen_port/],
      [['listen_port= 1'], /listen_port/],
      [['fwmark=4294967296'], /fwmark/],
      [[pk, 'persistent_keepalive_interval=65536'], /persistent_keepalive_interval/],
      [['private_key=' + 'g'.repeat(64)], /private_key: expected 64 hex digits/],
      [['public_key=' + 'a'.repeat(63)], /public_key: expected 64 hex digits/],
      [[pk, 'preshared_key=' + 'a'.repeat(65)], /line 2: preshared_key/],
      [[pk, 'endpoint=vpn.example.com:51820'], /not an IP address/],
      [[pk, 'endpoint=2001:db8::1:51820'], /\[address\]:port/],
      [[pk, 'endpoint=1.2.3.4:0'], /port "0"/],
      [[pk, 'allowed_ip=10.0.0.0'], /no \/prefix length/],
      [[pk, 'allowed_ip=10.0.0.0/33'], /prefix length "33"/],
      [[pk, 'allowed_ip=300.0.0.0/8'], /not an IPv4 address/],
    ];
    for (const [lines, message] of cases) assertDecodeError(() => parseUapiSet(lines), message);
  });

  test('round trip: parseUapiSet(formatUapiSet(request)) equals request', () => {
    fc.assert(
      fc.property(arbSetRequest, (request) => {
        assert.deepEqual(parseUapiSet(setLines(formatUapiSet(request))), request);
      }),
    );
  });

  test('formatUapiSet writes what `wg set` writes', () => {
    const text = formatUapiSet({
      device: { privateKey: key(2), listenPort: 51820, replacePeers: true },
      peers: [
        {
          kind: 'upsert',
          publicKey: key(3),
          updateOnly: false,
          endpoint: { family: 4, address: '192.0.2.1', port: 51820 },
          persistentKeepaliveInterval: 0,
          replaceAllowedIps: true,
          allowedIps: [{ family: 4, address: ipBytes('10.0.0.0'), prefixLength: 24 }],
        },
        { kind: 'remove', publicKey: key(4) },
      ],
    });
    assert.equal(
      text,
      [
        'set=1',
        `private_key=${hexOf(2)}`,
        'listen_port=51820',
        'replace_peers=true',
        `public_key=${hexOf(3)}`,
        'endpoint=192.0.2.1:51820',
        'persistent_keepalive_interval=0',
        'replace_allowed_ips=true',
        'allowed_ip=10.0.0.0/24',
        `public_key=${hexOf(4)}`,
        'remove=true',
        '',
        '',
      ].join('\n'),
    );
    assert.throws(() => formatUapiSet({ device: { fwmark: 2 ** 32, replacePeers: false }, peers: [] }), ArgumentError);
    assert.throws(() => formatUapiSet({ device: { listenPort: -1, replacePeers: false }, peers: [] }), ArgumentError);
  });

  test('any lines parse to changes or a typed error', () => {
    const keys = fc.constantFrom(
      'private_key',
      'listen_port',
      'fwmark',
      'replace_peers',
      'public_key',
      'remove',
      'update_only',
      'preshared_key',
      'endpoint',
      'persistent_keepalive_interval',
      'replace_allowed_ips',
      'allowed_ip',
      'protocol_version',
      'nope',
    );
    const values = fc.oneof(
      fc.constantFrom(hexOf(9), 'true', '1', '0', '10.0.0.0/8', 'fd00::/8', '[::1]:1', '1.2.3.4:5'),
      fc.string({ maxLength: 70 }),
    );
    const line = fc.oneof(
      fc.tuple(keys, values).map(([k, v]) => `${k}=${v}`),
      fc.string({ maxLength: 20 }),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 16 }), (lines) => {
        try {
          parseUapiSet(lines);
        } catch (err) {
          if (!(err instanceof MeshguardError)) throw err;
          assert.ok(err instanceof DecodeError);
        }
      }),
    );
  });
});
