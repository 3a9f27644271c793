import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  ArgumentError,
  CERT_SLOT_BYTES,
  decodeNodeCertificate,
  encodeNodeCertificate,
  issueCertificate,
} from '@meshguard/core';
import { decodeGossipEntry, GOSSIP_ENTRY_BYTES } from '../../src/swim/gossip-entry-codec.js';
import {
  decodeSwimMessage,
  encodeSwimMessage,
  MAX_GOSSIP_ENTRIES,
  type Ack,
  type Ping,
  type SwimMessage,
} from '../../src/swim/swim-codec.js';
import { arbGossipEntry, arbKey, arbU64, record } from './arbitraries.js';
import { assertDecodeError, decodesOrRejects, hex, K1, K2, toHexStr, TV13_ENTRY_1 } from './spec-fixtures.js';

const TV12_PING =
  '01d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a010000000000000015cd853dfe9c971700';
const TV14_PING_REQ =
  '02d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c0700000000000000';
const TV6_SIGNATURE =
  'd429f989b9788aba73f484df1355197891f72c66fc7d71301fd22c1ec31ece9e67127dc96a5f26cc862323076b1fa6cad757822ff3bd42420f60607b1bed4c06';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** TV6: v1 certificate, org K2, node K1, `node-1`, issued 1700000000, never expires. */
function tv6CertificateSlot(): Uint8Array {
  const cert = issueCertificate(K2, {
    nodePublicKey: K1.publicKey,
    nodeName: 'node-1',
    issuedAt: 1700000000n,
    expiresAt: 0n,
  });
  assert.equal(toHexStr(cert.signature), TV6_SIGNATURE);
  return encodeNodeCertificate(cert);
}

const entry1 = () => decodeGossipEntry(hex(TV13_ENTRY_1));

function ping(overrides: Partial<Ping> = {}): Ping {
  return {
    kind: 'ping',
    senderPublicKey: K1.publicKey,
    seq: 1n,
    incarnation: 0n,
    gossip: [],
    certificate: null,
    ...overrides,
  };
}

function asProbe(m: SwimMessage): Ping | Ack {
  assert.ok(m.kind === 'ping' || m.kind === 'ack');
  return m;
}

test('TV12 Ping decodes field by field and re-encodes to the same 50 bytes', () => {
  const m = asProbe(decodeSwimMessage(hex(TV12_PING)));
  assert.equal(m.kind, 'ping');
  assert.deepEqual(m.senderPublicKey, K1.publicKey);
  assert.equal(m.seq, 1n);
  assert.equal(m.incarnation, 1700000000123456789n);
  assert.deepEqual(m.gossip, []);
  assert.equal(m.certificate, null);
  assert.equal(toHexStr(encodeSwimMessage(m)), TV12_PING);
  const built = encodeSwimMessage(ping({ incarnation: 1700000000123456789n }));
  assert.equal(toHexStr(built), TV12_PING);
});

test('TV13 Ack with one entry and the TV6 certificate: 480 bytes, known SHA-256', () => {
  const slot = tv6CertificateSlot();
  const ack: Ack = {
    kind: 'ack',
    senderPublicKey: K2.publicKey,
    seq: 1n,
    incarnation: 0n,
    gossip: [entry1()],
    certificate: slot,
  };
  const bytes = encodeSwimMessage(ack);
  assert.equal(bytes.length, 480);
  assert.equal(sha256(bytes), 'bc1a8fb16def26c169c7abe0f7f4020bc267a29cacd227f2f7de6485774ebd43');
  assert.equal(toHexStr(bytes.subarray(50, 165)), TV13_ENTRY_1);
  assert.equal(bytes[165], 1);

  const decoded = asProbe(decodeSwimMessage(bytes));
  assert.equal(decoded.kind, 'ack');
  assert.deepEqual(decoded.senderPublicKey, K2.publicKey);
  assert.equal(decoded.seq, 1n);
  assert.equal(decoded.incarnation, 0n);
  assert.equal(decoded.gossip.length, 1);
  assert.deepEqual(decoded.gossip[0], entry1());
  assert.deepEqual(decoded.certificate, slot);
  const cert = decodeNodeCertificate(decoded.certificate);
  assert.equal(cert.version, 1);
  assert.deepEqual(cert.nodePublicKey, K1.publicKey);
  assert.equal(toHexStr(encodeSwimMessage(decoded)), toHexStr(bytes));
});

test('TV14 PingReq decodes field by field and re-encodes to the same 73 bytes', () => {
  const m = decodeSwimMessage(hex(TV14_PING_REQ));
  assert.equal(m.kind, 'ping-req');
  assert.deepEqual(m.senderPublicKey, K1.publicKey);
  assert.deepEqual(m.targetPublicKey, K2.publicKey);
  assert.equal(m.seq, 7n);
  assert.equal(toHexStr(encodeSwimMessage(m)), TV14_PING_REQ);
  const built = encodeSwimMessage({
    kind: 'ping-req',
    senderPublicKey: K1.publicKey,
    targetPublicKey: K2.publicKey,
    seq: 7n,
  });
  assert.equal(toHexStr(built), TV14_PING_REQ);
});

test('PingReq: 73 bytes minimum, trailing bytes ignored', () => {
  assertDecodeError(() => decodeSwimMessage(hex(TV14_PING_REQ).subarray(0, 72)));
  const long = new Uint8Array(80);
  long.set(hex(TV14_PING_REQ));
  const m = decodeSwimMessage(long);
  assert.equal(toHexStr(encodeSwimMessage(m)), TV14_PING_REQ);
});

test('size limits: 50 minimum, 970 with 8 entries, 1285 with 8 entries and certificate', () => {
  assertDecodeError(() => decodeSwimMessage(hex(TV12_PING).subarray(0, 49)));
  const eight = Array.from({ length: 8 }, entry1);
  assert.equal(encodeSwimMessage(ping({ gossip: eight })).length, 970);
  assert.equal(encodeSwimMessage(ping({ gossip: eight, certificate: new Uint8Array(CERT_SLOT_BYTES) })).length, 1285);
});

test('encoder refuses more than 8 entries and certificate slots that are not 314 bytes', () => {
  const nine = Array.from({ length: 9 }, entry1);
  assert.throws(() => encodeSwimMessage(ping({ gossip: nine })), ArgumentError);
  assert.throws(() => encodeSwimMessage(ping({ certificate: new Uint8Array(186) })), ArgumentError);
  assert.throws(() => encodeSwimMessage(ping({ seq: 1n << 64n })), ArgumentError);
  assert.throws(() => encodeSwimMessage(ping({ senderPublicKey: new Uint8Array(31) })), ArgumentError);
});

test('decoder reads at most 8 entries even if the count says more', () => {
  const entries = new Uint8Array(GOSSIP_ENTRY_BYTES * 9);
  for (let i = 0; i < 9; i++) entries.set(hex(TV13_ENTRY_1), i * GOSSIP_ENTRY_BYTES);
  const bytes = new Uint8Array(50 + entries.length);
  bytes.set(encodeSwimMessage(ping()));
  bytes[49] = 9;
  bytes.set(entries, 50);
  const m = asProbe(decodeSwimMessage(bytes));
  assert.equal(m.gossip.length, MAX_GOSSIP_ENTRIES);
  // The 9th entry starts with K1's first byte 0xd7, not 1: no certificate.
  assert.equal(m.certificate, null);
});

test('truncated gossip list keeps the entries that fit', () => {
  const full = encodeSwimMessage(ping({ gossip: [entry1(), entry1(), entry1()] }));
  const m = asProbe(decodeSwimMessage(full.subarray(0, 50 + 115 + 60)));
  assert.equal(m.gossip.length, 1);
  assert.equal(m.certificate, null);
  const none = asProbe(decodeSwimMessage(full.subarray(0, 50 + 114)));
  assert.equal(none.gossip.length, 0);
});

test('a bad event stops parsing; later valid entries are ignored', () => {
  const bad = hex(TV13_ENTRY_1);
  bad[32] = 7;
  const bytes = encodeSwimMessage(ping({ gossip: [entry1(), entry1(), entry1()] }));
  bytes.set(bad, 50 + 115);
  const m = asProbe(decodeSwimMessage(bytes));
  assert.equal(m.gossip.length, 1);
  assert.equal(m.certificate, null);
});

test('certificate extension: present only when the byte is 1 and at least 186 bytes follow', () => {
  const base = encodeSwimMessage(ping());
  const withExtension = (marker: number, length: number): Uint8Array => {
    const out = new Uint8Array(base.length + 1 + length);
    out.set(base);
    out[base.length] = marker;
    for (let i = 0; i < length; i++) out[base.length + 1 + i] = (i % 251) + 1;
    return out;
  };
  assert.equal(asProbe(decodeSwimMessage(withExtension(1, 185))).certificate, null);
  assert.equal(asProbe(decodeSwimMessage(withExtension(2, 314))).certificate, null);
  assert.equal(asProbe(decodeSwimMessage(withExtension(0, 314))).certificate, null);
  assert.equal(asProbe(decodeSwimMessage(withExtension(1, 0))).certificate, null);

  const legacy = asProbe(decodeSwimMessage(withExtension(1, 186))).certificate;
  assert.ok(legacy !== null);
  assert.equal(legacy.length, CERT_SLOT_BYTES);
  assert.deepEqual(legacy.subarray(0, 186), withExtension(1, 186).subarray(51));
  assert.ok(
    legacy.subarray(186).every((b) => b === 0),
    'tail zero-filled',
  );

  const between = asProbe(decodeSwimMessage(withExtension(1, 250))).certificate;
  assert.ok(between !== null);
  assert.deepEqual(between.subarray(0, 250), withExtension(1, 250).subarray(51));
  assert.ok(between.subarray(250).every((b) => b === 0));

  const long = withExtension(1, 400);
  assert.deepEqual(asProbe(decodeSwimMessage(long)).certificate, long.slice(51, 51 + 314));
});

test('a certificate the core decoder would refuse still leaves the Ping decodable', () => {
  const slot = new Uint8Array(CERT_SLOT_BYTES);
  slot[0] = 9;
  const m = asProbe(decodeSwimMessage(encodeSwimMessage(ping({ certificate: slot }))));
  assert.deepEqual(m.certificate, slot);
  assertDecodeError(() => decodeNodeCertificate(m.certificate!));
});

test('after an early stop the extension is looked for where parsing stopped (reference quirk)', () => {
  // count 2, first entry fine, second has a bad event — but its first byte is 1 and ≥ 186 bytes follow.
  const second = hex(TV13_ENTRY_1);
  second[0] = 1;
  second[32] = 9;
  const bytes = new Uint8Array(50 + 115 + 115 + 200);
  bytes.set(encodeSwimMessage(ping({ gossip: [entry1()] })));
  bytes[49] = 2;
  bytes.set(second, 165);
  const m = asProbe(decodeSwimMessage(bytes));
  assert.equal(m.gossip.length, 1);
  assert.ok(m.certificate !== null);
  assert.deepEqual(m.certificate, bytes.slice(166, 166 + 314));
});

test('unknown tags and empty datagrams are DecodeErrors', () => {
  assertDecodeError(() => decodeSwimMessage(new Uint8Array(0)), /empty/);
  for (const tag of [0x00, 0x04, 0x10, 0x31, 0x33, 0x41, 0x50, 0xff]) {
    const b = hex(TV12_PING);
    b[0] = tag;
    assertDecodeError(() => decodeSwimMessage(b), /unknown tag/);
  }
});

const arbProbe: fc.Arbitrary<SwimMessage> = record({
  kind: fc.constantFrom('ping' as const, 'ack' as const),
  senderPublicKey: arbKey,
  seq: arbU64,
  incarnation: arbU64,
  gossip: fc.array(arbGossipEntry, { maxLength: MAX_GOSSIP_ENTRIES }),
  certificate: fc.option(fc.uint8Array({ minLength: CERT_SLOT_BYTES, maxLength: CERT_SLOT_BYTES }), { nil: null }),
});
const arbPingReq: fc.Arbitrary<SwimMessage> = record({
  kind: fc.constant('ping-req' as const),
  senderPublicKey: arbKey,
  targetPublicKey: arbKey,
  seq: arbU64,
});

test('property: decode ∘ encode is the identity on SWIM messages', () => {
  fc.assert(
    fc.property(fc.oneof(arbProbe, arbPingReq), (m) => {
      assert.deepEqual(decodeSwimMessage(encodeSwimMessage(m)), m);
    }),
  );
});

test('property: decodeSwimMessage returns or throws DecodeError for any bytes', () => {
  const tagged = fc
    .tuple(fc.constantFrom(1, 2, 3), fc.uint8Array({ maxLength: 1400 }))
    .map(([tag, rest]) => Uint8Array.of(tag, ...rest));
  // Structured noise: valid entries interleaved with random bytes reach the deeper branches.
  const spliced = fc.tuple(arbProbe, fc.nat(), fc.uint8Array({ maxLength: 400 })).map(([m, cut, noise]) => {
    const bytes = encodeSwimMessage(m);
    const at = cut % (bytes.length + 1);
    const out = new Uint8Array(at + noise.length);
    out.set(bytes.subarray(0, at));
    out.set(noise, at);
    return out;
  });
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 1400 }), tagged, spliced), (b) =>
      decodesOrRejects(() => decodeSwimMessage(b)),
    ),
  );
});
