import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from '../src/index.js';
import { toHexStr } from './fixtures.js';

test('parseIPv4 accepts dotted quads and refuses everything else', () => {
  assert.deepEqual(parseIPv4('203.0.113.7'), Uint8Array.of(203, 0, 113, 7));
  assert.deepEqual(parseIPv4('0.0.0.0'), Uint8Array.of(0, 0, 0, 0));
  assert.deepEqual(parseIPv4('255.255.255.255'), Uint8Array.of(255, 255, 255, 255));
  for (const bad of [
    '',
    '1.2.3',
    '1.2.3.4.5',
    '256.0.0.1',
    '01.2.3.4',
    '1.2.3.-4',
    '1..3.4',
    ' 1.2.3.4',
    '1.2.3.4 ',
    'a.b.c.d',
    '1.2.3.0x4',
  ]) {
    assert.equal(parseIPv4(bad), null, bad);
  }
});

test('parseIPv6 accepts RFC 4291 text forms', () => {
  const cases: Array<[string, string]> = [
    ['::', '00000000000000000000000000000000'],
    ['::1', '00000000000000000000000000000001'],
    ['1::', '00010000000000000000000000000000'],
    ['fd99:6d67::1027:e035:b26b:605d', 'fd996d67000000001027e035b26b605d'],
    ['FD99:6D67:0:0:1027:E035:B26B:605D', 'fd996d67000000001027e035b26b605d'],
    ['1:2:3:4:5:6:7::', '00010002000300040005000600070000'],
    ['::ffff:192.0.2.1', '00000000000000000000ffffc0000201'],
    ['1:2:3:4:5:6:1.2.3.4', '00010002000300040005000601020304'],
  ];
  for (const [text, bytes] of cases) assert.equal(toHexStr(parseIPv6(text) ?? new Uint8Array()), bytes, text);
});

test('parseIPv6 refuses malformed text', () => {
  for (const bad of [
    '',
    ':',
    ':::',
    '1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:8:9',
    '1::2::3',
    '1:2:3:4:5:6:7:8::',
    '12345::',
    'g::',
    ':1::',
    '::1:',
    'fe80::1%eth0',
    '[::1]',
    '1.2.3.4',
    '::1.2.3.4:5',
    '::1.2.3',
  ]) {
    assert.equal(parseIPv6(bad), null, bad);
  }
});

test('property: parsers invert core formatters', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), (b) => {
      assert.deepEqual(parseIPv4(formatIPv4(b)), b);
    }),
  );
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
      assert.deepEqual(parseIPv6(formatIPv6(b)), b);
    }),
  );
});

test('property: parsers return bytes of the right size or null for any string', () => {
  const arbText = fc.oneof(fc.string(), fc.stringMatching(/^[0-9a-fA-F:.]{0,45}$/));
  fc.assert(
    fc.property(arbText, (s) => {
      const v4 = parseIPv4(s);
      const v6 = parseIPv6(s);
      assert.ok(v4 === null || v4.length === 4);
      assert.ok(v6 === null || v6.length === 16);
    }),
  );
});
