import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeOrgMessage, encodeOrgMessage, signOrgRevoke } from '@meshguard/core';
import { K1, K2 } from '@meshguard/core/testing';
import { decodeRelayFrame, encodeRelayFrame } from '../../src/nat/relay-codec.js';
import { decodeSwimMessage, encodeSwimMessage } from '../../src/swim/swim-codec.js';

/**
 * node:dgram delivers Buffers, whose `.slice` is a view: a decoder that returned such views
 * would see its decoded keys change when the receive buffer is reused.
 */
test('decoded fields do not alias a Buffer the datagram arrived in', () => {
  const ping = Buffer.from(
    encodeSwimMessage({
      kind: 'ping',
      senderPublicKey: K1.publicKey,
      seq: 1n,
      incarnation: 0n,
      gossip: [],
      certificate: null,
    }),
  );
  const decodedPing = decodeSwimMessage(ping);
  const frame = Buffer.from(
    encodeRelayFrame({
      senderPublicKey: K1.publicKey,
      targetPublicKey: K2.publicKey,
      payload: Uint8Array.of(4, 0, 0, 0),
    }),
  );
  const decodedFrame = decodeRelayFrame(frame);
  const revoke = Buffer.from(encodeOrgMessage(signOrgRevoke(K2, K1.publicKey, 2, 1n)));
  const decodedRevoke = decodeOrgMessage(revoke);

  for (const b of [ping, frame, revoke]) b.fill(0xee);

  assert.deepEqual(decodedPing.senderPublicKey, K1.publicKey);
  assert.equal(decodedPing.senderPublicKey.constructor, Uint8Array);
  assert.deepEqual(decodedFrame.senderPublicKey, K1.publicKey);
  assert.deepEqual(decodedFrame.payload, Uint8Array.of(4, 0, 0, 0));
  assert.equal(decodedRevoke.kind, 'revoke');
  assert.deepEqual(decodedRevoke.orgPublicKey, K2.publicKey);
});
