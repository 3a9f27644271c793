import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ArgumentError, meshAddresses } from '@meshguard/core';
import { natTypeCode, natTypeFromCode } from '../../src/nat/nat-type.js';
import {
  decodeGossipEntry,
  encodeGossipEntry,
  GOSSIP_ENTRY_BYTES,
  gossipEventCode,
  gossipEventFromCode,
  type GossipEntry,
} from '../../src/swim/gossip-entry-codec.js';
import { arbBytesAround, arbGossipEntry } from './arbitraries.js';
import { assertDecodeError, decodesOrRejects, hex, K1, K1_WG, K2, toHexStr, TV13_ENTRY_1 } from './spec-fixtures.js';

const TV13_ENTRY_2 =
  '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c0006000000000000000106fd996d67000000001027e035b26b605d6dca0000000000000000000000000000000000000000000000000000000000000000000104c6336401000000000000000000000000409c03';

test('TV13 entry 1: K1 alive, WG key, no public endpoint, NAT cone', () => {
  const entry = decodeGossipEntry(hex(TV13_ENTRY_1));
  assert.deepEqual(entry.subjectPublicKey, K1.publicKey);
  assert.equal(entry.event, 'alive');
  assert.equal(entry.lamport, 5n);
  assert.deepEqual(entry.endpoint, { family: 4, address: '203.0.113.7', port: 51821 });
  assert.deepEqual(entry.wgPublicKey, K1_WG.publicKey);
  assert.equal(entry.publicEndpoint, null);
  assert.equal(entry.natType, 'cone');
  assert.equal(toHexStr(encodeGossipEntry(entry)), TV13_ENTRY_1);
});

test('TV13 entry 2: K2 join, IPv6 endpoint, no WG key, public endpoint, NAT unknown', () => {
  const entry = decodeGossipEntry(hex(TV13_ENTRY_2));
  assert.deepEqual(entry.subjectPublicKey, K2.publicKey);
  assert.equal(entry.event, 'join');
  assert.equal(entry.lamport, 6n);
  assert.deepEqual(entry.endpoint, { family: 6, address: meshAddresses(K2.publicKey).ipv6, port: 51821 });
  assert.equal(entry.wgPublicKey, null);
  assert.deepEqual(entry.publicEndpoint, { family: 4, address: '198.51.100.1', port: 40000 });
  assert.equal(entry.natType, 'unknown');
  assert.equal(toHexStr(encodeGossipEntry(entry)), TV13_ENTRY_2);
});

test('TV13 entries built from typed values match byte for byte', () => {
  const built: GossipEntry = {
    subjectPublicKey: K2.publicKey,
    event: 'join',
    lamport: 6n,
    endpoint: { family: 6, address: meshAddresses(K2.publicKey).ipv6, port: 51821 },
    wgPublicKey: null,
    publicEndpoint: { family: 4, address: '198.51.100.1', port: 40000 },
    natType: 'unknown',
  };
  assert.equal(toHexStr(encodeGossipEntry(built)), TV13_ENTRY_2);
});

test('has_wg other than exactly 1 means no WG key', () => {
  const bytes = hex(TV13_ENTRY_1);
  bytes[61] = 2;
  assert.equal(decodeGossipEntry(bytes).wgPublicKey, null);
});

test('unknown NAT codes read as unknown; unknown events are rejected', () => {
  const bytes = hex(TV13_ENTRY_1);
  bytes[114] = 0xee;
  assert.equal(decodeGossipEntry(bytes).natType, 'unknown');
  bytes[32] = 5;
  assertDecodeError(() => decodeGossipEntry(bytes), /event/);
});

test('event and NAT code tables', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 255].map(gossipEventFromCode), [
    'join',
    'alive',
    'suspect',
    'dead',
    'leave',
    null,
    null,
  ]);
  assert.deepEqual([0, 1, 2, 3, 4, 255].map(natTypeFromCode), [
    'public',
    'cone',
    'symmetric',
    'unknown',
    'unknown',
    'unknown',
  ]);
  assert.equal(gossipEventCode('leave'), 4);
  assert.equal(natTypeCode('symmetric'), 2);
});

test('decoder requires exactly 115 bytes', () => {
  assertDecodeError(() => decodeGossipEntry(hex(TV13_ENTRY_1).subarray(0, 114)));
  assertDecodeError(() => decodeGossipEntry(new Uint8Array(116)));
});

test('encoder refuses short keys and out-of-range lamports', () => {
  const good = decodeGossipEntry(hex(TV13_ENTRY_1));
  assert.throws(() => encodeGossipEntry({ ...good, subjectPublicKey: new Uint8Array(31) }), ArgumentError);
  assert.throws(() => encodeGossipEntry({ ...good, wgPublicKey: new Uint8Array(33) }), ArgumentError);
  assert.throws(() => encodeGossipEntry({ ...good, lamport: -1n }), ArgumentError);
  assert.throws(() => encodeGossipEntry({ ...good, lamport: 1n << 64n }), ArgumentError);
});

test('property: decode ∘ encode is the identity on gossip entries', () => {
  fc.assert(
    fc.property(arbGossipEntry, (entry) => {
      const bytes = encodeGossipEntry(entry);
      assert.equal(bytes.length, GOSSIP_ENTRY_BYTES);
      assert.deepEqual(decodeGossipEntry(bytes), entry);
    }),
  );
});

test('property: decodeGossipEntry returns or throws DecodeError for any bytes', () => {
  fc.assert(fc.property(arbBytesAround(GOSSIP_ENTRY_BYTES), (b) => decodesOrRejects(() => decodeGossipEntry(b))));
});
