import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodesOrRejects, assertDecodeError } from '../swim/spec-fixtures.js';
import { parseWgDump } from './wg-dump.js';

const K1 = 'yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=';
const K2 = 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=';
const K3 = 'TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=';

test('interface and peer lines, with every absent-value spelling', () => {
  const text = [
    `${K1}\t${K2}\t51820\toff`,
    `${K3}\t(none)\t192.0.2.2:51820\t10.100.0.2/32,fd00:100::2/128\t1700000000\t1234\t5678\t25`,
    `${K2}\t${K1}\t(none)\t(none)\t0\t0\t0\toff`,
    '',
  ].join('\n');
  assert.deepEqual(parseWgDump(text), {
    interface: { privateKey: K1, publicKey: K2, listenPort: 51820, fwmark: null },
    peers: [
      {
        publicKey: K3,
        presharedKey: null,
        endpoint: '192.0.2.2:51820',
        allowedIps: ['10.100.0.2/32', 'fd00:100::2/128'],
        latestHandshake: 1700000000,
        rxBytes: 1234n,
        txBytes: 5678n,
        persistentKeepalive: 25,
      },
      {
        publicKey: K2,
        presharedKey: K1,
        endpoint: null,
        allowedIps: [],
        latestHandshake: 0,
        rxBytes: 0n,
        txBytes: 0n,
        persistentKeepalive: null,
      },
    ],
  });
  // A device with no key yet, as wireguard-go starts.
  assert.deepEqual(parseWgDump('(none)\t(none)\t38752\t0xff00\n').interface, {
    privateKey: null,
    publicKey: null,
    listenPort: 38752,
    fwmark: 0xff00,
  });
});

test('refusals', () => {
  assertDecodeError(() => parseWgDump(''), /empty/);
  assertDecodeError(() => parseWgDump(`${K1}\t${K2}\t1\n`), /expected 4 tab-separated fields, got 3/);
  assertDecodeError(() => parseWgDump(`${K1}\t${K2}\t65536\toff\n`), /listen port "65536"/);
  assertDecodeError(() => parseWgDump(`${K1}\t${K2}\t1\t5\n`), /fwmark "5" is not off or 0x<hex>/);
  assertDecodeError(() => parseWgDump(`x\t${K2}\t1\toff\n`), /private key is not a base64 key/);
  assertDecodeError(
    () => parseWgDump(`${K1}\t${K2}\t1\toff\n(none)\t(none)\t(none)\t(none)\t0\t0\t0\toff`),
    /no public key/,
  );
  assertDecodeError(
    () => parseWgDump(`${K1}\t${K2}\t1\toff\n${K3}\t(none)\t(none)\t(none)\t0\t-1\t0\toff`),
    /rx bytes/,
  );
});

test('any text parses or is a DecodeError', () => {
  const field = fc.constantFrom(K1, '(none)', 'off', '0', '1', '65536', 'x', '');
  const line = fc.array(field, { minLength: 1, maxLength: 9 }).map((f) => f.join('\t'));
  fc.assert(
    fc.property(fc.array(line, { maxLength: 4 }), (lines) => decodesOrRejects(() => parseWgDump(lines.join('\n')))),
  );
  fc.assert(fc.property(fc.string({ maxLength: 100 }), (s) => decodesOrRejects(() => parseWgDump(s))));
});
