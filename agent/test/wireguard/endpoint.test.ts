import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ArgumentError, DecodeError } from '@meshguard/core';
import { endpointBytes, endpointKey, parseEndpoint, sameEndpoint } from '../../src/wireguard/endpoint.js';
import { arbIpEndpoint } from '../wgquick/arbitraries.js';

test('parseEndpoint reads what UAPI endpoint= reads, as a UdpEndpoint', () => {
  assert.deepEqual(parseEndpoint('192.0.2.1:51820'), { address: '192.0.2.1', port: 51820 });
  assert.deepEqual(parseEndpoint('[2001:DB8:0::1]:1'), { address: '2001:db8::1', port: 1 });
  assert.deepEqual(parseEndpoint('[::1]:65535'), { address: '::1', port: 65535 });
});

test('parseEndpoint refuses with ArgumentError, keeping the reason', () => {
  for (const [text, reason] of [
    ['', /has no :port/],
    ['192.0.2.1', /has no :port/],
    ['192.0.2.1:0', /port "0" is not 1–65535/],
    ['192.0.2.1:65536', /port "65536"/],
    ['192.0.2.1:051820', /port "051820"/],
    ['192.0.2.256:1', /not an IP address/],
    ['010.0.0.1:1', /not an IP address/],
    ['vpn.example.com:51820', /not an IP address/],
    ['2001:db8::1:51820', /\[address\]:port/],
    ['[2001:db8::1]51820', /\[address\]:port/],
    ['[fe80::1%eth0]:1', /zone identifiers/],
    ['[1.2.3.4]:1', /not an IPv6 address/],
  ] as const) {
    assert.throws(
      () => parseEndpoint(text),
      (err: unknown) => err instanceof ArgumentError && err.cause instanceof DecodeError && reason.test(err.message),
      text,
    );
  }
  fc.assert(
    fc.property(fc.string({ maxLength: 50 }), (s) => {
      try {
        parseEndpoint(s);
      } catch (err) {
        assert.ok(err instanceof ArgumentError, String(err));
      }
    }),
  );
});

test('parseEndpoint inverts endpointKey', () => {
  fc.assert(
    fc.property(arbIpEndpoint, ({ address, port }) => {
      const endpoint = { address, port };
      assert.deepEqual(parseEndpoint(endpointKey(endpoint)), endpoint);
      assert.ok(sameEndpoint(parseEndpoint(endpointKey(endpoint)), endpoint));
    }),
  );
});

test('endpointKey, sameEndpoint, endpointBytes', () => {
  assert.equal(endpointKey({ address: '10.0.0.1', port: 9 }), '10.0.0.1:9');
  assert.equal(endpointKey({ address: 'fd00::1', port: 9 }), '[fd00::1]:9');
  assert.equal(sameEndpoint(null, { address: '10.0.0.1', port: 9 }), false);
  assert.equal(sameEndpoint({ address: '10.0.0.1', port: 9 }, { address: '10.0.0.1', port: 10 }), false);
  assert.equal(sameEndpoint({ address: '10.0.0.1', port: 9 }, { address: '10.0.0.1', port: 9 }), true);
  assert.deepEqual(endpointBytes({ address: '10.0.0.1', port: 0x1234 }), Uint8Array.of(10, 0, 0, 1, 0x12, 0x34));
  const v6 = endpointBytes({ address: 'fd00::1', port: 51820 });
  assert.deepEqual([...v6], [0xfd, ...new Array<number>(14).fill(0), 1, 51820 >> 8, 51820 & 0xff]);
  assert.throws(() => endpointBytes({ address: 'fe80::1%eth0', port: 1 }), ArgumentError);
  assert.throws(() => endpointBytes({ address: 'host', port: 1 }), ArgumentError);
});
