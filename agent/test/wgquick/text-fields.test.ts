import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ArgumentError } from '@meshguard/core';
import { formatQuickEndpoint, parseIpEndpointText, parseQuickEndpointText } from '../../src/wgquick/endpoint-text.js';
import {
  wgKeyFromBase64,
  wgKeyFromHex,
  wgKeyOrNullFromHex,
  wgKeyOrNullToHex,
  wgKeyToBase64,
  wgKeyToHex,
} from '../../src/wgquick/key-text.js';
import { assertDecodeError, decodesOrRejects } from '../swim/spec-fixtures.js';
import { arbKey, arbQuickEndpoint } from './arbitraries.js';

// One key in both spellings: what `wg show` prints and what the UAPI socket carries.
const KEY_B64 = 'yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=';
const KEY_HEX = 'c809f3e5317e9575c9b5ed78b638b7ce530dabe85ddab614220241801ddf0669';

test('base64 and hex spell the same key', () => {
  const key = wgKeyFromBase64(KEY_B64, 'key');
  assert.equal(wgKeyToHex(key), KEY_HEX);
  assert.equal(wgKeyToBase64(wgKeyFromHex(KEY_HEX, 'key')), KEY_B64);
  assert.deepEqual(wgKeyFromHex(KEY_HEX.toUpperCase(), 'key'), key);
  fc.assert(
    fc.property(arbKey, (k) => {
      assert.deepEqual(wgKeyFromHex(wgKeyToHex(k), 'k'), k);
      assert.deepEqual(wgKeyFromBase64(wgKeyToBase64(k), 'k'), k);
      assert.equal(wgKeyToHex(wgKeyFromBase64(wgKeyToBase64(k), 'k')), Buffer.from(k).toString('hex'));
    }),
  );
});

test('64 zeros is "no key"', () => {
  assert.equal(wgKeyOrNullFromHex('0'.repeat(64), 'k'), null);
  assert.equal(wgKeyOrNullToHex(null), '0'.repeat(64));
  assert.equal(wgKeyOrNullToHex(wgKeyFromHex(KEY_HEX, 'k')), KEY_HEX);
});

test('key text refusals', () => {
  assertDecodeError(() => wgKeyFromHex(KEY_HEX.slice(1), 'k'), /k: expected 64 hex digits/);
  assertDecodeError(() => wgKeyFromHex(`${KEY_HEX.slice(1)}g`, 'k'), /hex digits/);
  assertDecodeError(() => wgKeyFromHex(` ${KEY_HEX}`, 'k'), /hex digits/);
  assertDecodeError(() => wgKeyFromBase64(KEY_B64.slice(1), 'k'), /44 base64 characters/);
  assertDecodeError(() => wgKeyFromBase64(KEY_B64.replace('+', '-'), 'k'), /standard padded base64/);
  assert.throws(() => wgKeyToHex(new Uint8Array(33)), ArgumentError);
  assert.throws(() => wgKeyToBase64(new Uint8Array(0)), ArgumentError);
  fc.assert(fc.property(fc.string({ maxLength: 70 }), (s) => decodesOrRejects(() => wgKeyFromHex(s, 'k'))));
  fc.assert(fc.property(fc.string({ maxLength: 50 }), (s) => decodesOrRejects(() => wgKeyFromBase64(s, 'k'))));
});

test('endpoints: IP literals for UAPI, host names too for wg-quick', () => {
  assert.deepEqual(parseIpEndpointText('192.0.2.1:51820', 'e'), { family: 4, address: '192.0.2.1', port: 51820 });
  assert.deepEqual(parseIpEndpointText('[2001:DB8:0::1]:1', 'e'), { family: 6, address: '2001:db8::1', port: 1 });
  assertDecodeError(() => parseIpEndpointText('example.com:1', 'e'), /not an IP address/);
  assert.deepEqual(parseQuickEndpointText('Example.COM:1', 'e'), {
    family: 'hostname',
    hostname: 'example.com',
    port: 1,
  });
  assert.equal(formatQuickEndpoint({ family: 'hostname', hostname: 'a.b', port: 9 }), 'a.b:9');
  assert.equal(formatQuickEndpoint({ family: 6, address: '::1', port: 9 }), '[::1]:9');
  const longName = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`;
  assert.equal(longName.length, 253);
  assert.equal(parseQuickEndpointText(`${longName}:1`, 'e').family, 'hostname');
  assertDecodeError(() => parseQuickEndpointText(`${longName}d:1`, 'e'), /valid host name/);
  assertDecodeError(() => parseQuickEndpointText('a..b:1', 'e'), /valid host name/);
  assertDecodeError(() => parseQuickEndpointText('1.2.3.4.5:1', 'e'), /valid host name/);
  fc.assert(
    fc.property(arbQuickEndpoint, (e) => {
      assert.deepEqual(parseQuickEndpointText(formatQuickEndpoint(e), 'e'), e);
    }),
  );
  fc.assert(fc.property(fc.string({ maxLength: 50 }), (s) => decodesOrRejects(() => parseQuickEndpointText(s, 'e'))));
});
