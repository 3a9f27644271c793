import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { classifyDatagram } from '../../src/net/datagram-classifier.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));

describe('classifyDatagram (spec §6.1)', () => {
  it('classifies each kind of datagram on the shared port', () => {
    assert.equal(classifyDatagram(hex('31' + '00'.repeat(98))), 'relay');
    for (const t of [1, 2, 3, 4])
      assert.equal(classifyDatagram(Uint8Array.of(t, 0, 0, 0, ...new Array<number>(144).fill(0))), 'wireguard');
    // TV18's STUN response, and a binding request.
    assert.equal(classifyDatagram(hex('0101000c2112a442000102030405060708090a0b002000080001112bea12d568')), 'stun');
    assert.equal(classifyDatagram(hex('000100002112a442000102030405060708090a0b')), 'stun');
    assert.equal(classifyDatagram(hex('4d474850000102030405060708090a0b0c0d0e0f')), 'holepunch-probe');
    assert.equal(classifyDatagram(hex('50' + '00'.repeat(92))), 'app');
    // TV12's Ping, a PingReq and org messages go to the SWIM dispatcher.
    assert.equal(
      classifyDatagram(
        hex('01d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a010000000000000015cd853dfe9c971700'),
      ),
      'swim',
    );
    for (const tag of [0x02, 0x03, 0x33, 0x34, 0x41, 0x42, 0x43]) {
      assert.equal(classifyDatagram(Uint8Array.of(tag, 0xaa, 0xbb, 0xcc, 0, 0, 0, 0)), 'swim');
    }
  });
  it('follows the reference where a Ping looks like WireGuard (sender key with three zero bytes)', () => {
    assert.equal(classifyDatagram(Uint8Array.of(1, 0, 0, 0, 5)), 'wireguard');
  });
  it('drops empty and too-short datagrams', () => {
    assert.equal(classifyDatagram(new Uint8Array(0)), 'invalid');
    assert.equal(classifyDatagram(Uint8Array.of(1, 0, 0)), 'invalid');
    assert.equal(classifyDatagram(Uint8Array.of(0x31)), 'relay');
  });
  it('a probe must be exactly 20 bytes', () => {
    assert.notEqual(classifyDatagram(hex('4d474850000102030405060708090a0b0c0d0e0f00')), 'holepunch-probe');
  });
  it('property: any bytes get exactly one kind, never an exception', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        const kind = classifyDatagram(b);
        assert.ok(['relay', 'wireguard', 'stun', 'holepunch-probe', 'app', 'swim', 'invalid'].includes(kind));
      }),
      { numRuns: 5000 },
    );
  });
});
