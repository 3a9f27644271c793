import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { DecodeError, deriveWireGuardKeyPair, InvalidKeyError, type WireGuardKeyPair } from '@meshguard/core';
import { ipBytes } from '@meshguard/core/testing';
import { QuickConfigError } from '../../src/wgquick/quick-config-error.js';
import {
  formatWgQuickConfig,
  MAX_WG_QUICK_CONFIG_BYTES,
  MAX_WG_QUICK_PEERS,
  parseWgQuickConfig,
} from '../../src/wgquick/quick-config.js';
import { arbQuickConfig } from './arbitraries.js';

const keyPair = (n: number): WireGuardKeyPair => deriveWireGuardKeyPair(new Uint8Array(32).fill(n));
const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
const SELF = keyPair(1);
const PEER_A = keyPair(2);
const PEER_B = keyPair(3);
const PSK = b64(new Uint8Array(32).fill(0x5a));

/** A minimal valid file, with `extra` lines appended, for error tests that need a sane start. */
const base = (...extra: string[]): string =>
  [
    '[Interface]',
    `PrivateKey = ${b64(SELF.privateKey)}`,
    '',
    '[Peer]',
    `PublicKey = ${b64(PEER_A.publicKey)}`,
    ...extra,
  ]
    .join('\n')
    .concat('\n');

function assertLineError(text: string | Uint8Array, line: number | null, message: RegExp): QuickConfigError {
  let caught: unknown;
  try {
    parseWgQuickConfig(text);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof QuickConfigError, `expected QuickConfigError, got ${String(caught)}`);
  assert.ok(caught instanceof DecodeError);
  assert.equal(caught.line, line, caught.message);
  assert.match(caught.message, message);
  if (line !== null) assert.match(caught.message, new RegExp(`^line ${line}: `));
  return caught;
}

describe('parseWgQuickConfig', () => {
  test('a realistic file: comments, case, whitespace, lists, repeats, CRLF and a BOM', () => {
    const text = [
      '\ufeff# laptop.conf',
      '[interface]',
      `  privatekey=${b64(SELF.privateKey)}   # from wg genkey`,
      'ListenPort = 51820',
      'Address = 10.8.0.2/24 , fd00:8::2/64',
      'ADDRESS = 192.168.50.7',
      'MTU\t=\t1420',
      '',
      '[PEER]',
      `PublicKey = ${b64(PEER_A.publicKey)}`,
      `PresharedKey = ${PSK}`,
      'Endpoint = vpn.Example.com:51820',
      'AllowedIPs = 10.8.0.0/24, 192.168.1.77/24',
      'AllowedIPs = FD00:8:0:0::1/64',
      'PersistentKeepalive = 25',
      '[Peer]',
      `PublicKey = ${b64(PEER_B.publicKey)}`,
      'Endpoint = [2001:DB8::0001]:4500',
      'AllowedIPs =',
      'persistentkeepalive = Off',
    ].join('\r\n');
    assert.deepEqual(parseWgQuickConfig(text), {
      interface: {
        privateKey: SELF.privateKey,
        listenPort: 51820,
        addresses: [
          { family: 4, address: ipBytes('10.8.0.2'), prefixLength: 24 },
          { family: 6, address: ipBytes('fd00:8::2'), prefixLength: 64 },
          { family: 4, address: ipBytes('192.168.50.7'), prefixLength: 32 },
        ],
        mtu: 1420,
      },
      peers: [
        {
          publicKey: PEER_A.publicKey,
          presharedKey: new Uint8Array(32).fill(0x5a),
          endpoint: { family: 'hostname', hostname: 'vpn.example.com', port: 51820 },
          allowedIps: [
            { family: 4, address: ipBytes('10.8.0.0'), prefixLength: 24 },
            // Host bits are masked, as wg does when it installs the route.
            { family: 4, address: ipBytes('192.168.1.0'), prefixLength: 24 },
            { family: 6, address: ipBytes('fd00:8::'), prefixLength: 64 },
          ],
          persistentKeepalive: 25,
        },
        {
          publicKey: PEER_B.publicKey,
          presharedKey: null,
          endpoint: { family: 6, address: '2001:db8::1', port: 4500 },
          allowedIps: [],
          persistentKeepalive: 0,
        },
      ],
    });
  });

  test('bytes are read as UTF-8; defaults when optional keys are absent', () => {
    const config = parseWgQuickConfig(new TextEncoder().encode(base()));
    assert.equal(config.interface.listenPort, null);
    assert.equal(config.interface.mtu, null);
    assert.deepEqual(config.interface.addresses, []);
    assert.deepEqual(config.peers[0]!.endpoint, null);
    assert.equal(parseWgQuickConfig('[Interface]\nPrivateKey=' + b64(SELF.privateKey)).peers.length, 0);
  });

  test('round trip: parse(format(config)) equals config', () => {
    fc.assert(
      fc.property(arbQuickConfig, (config) => {
        assert.deepEqual(parseWgQuickConfig(formatWgQuickConfig(config)), config);
      }),
    );
  });

  test('format writes the canonical file', () => {
    const config = parseWgQuickConfig(
      base('AllowedIPs = 10.0.0.9/8,::/0', 'Endpoint=1.2.3.4:5', 'PersistentKeepalive=0', 'PresharedKey=' + PSK),
    );
    assert.equal(
      formatWgQuickConfig(config),
      [
        '[Interface]',
        `PrivateKey = ${b64(SELF.privateKey)}`,
        '',
        '[Peer]',
        `PublicKey = ${b64(PEER_A.publicKey)}`,
        `PresharedKey = ${PSK}`,
        'Endpoint = 1.2.3.4:5',
        'AllowedIPs = 10.0.0.0/8, ::/0',
        '',
      ].join('\n'),
    );
  });

  test('any text yields a config or a QuickConfigError, never another exception', () => {
    const fragments = fc.constantFrom(
      '[Interface]',
      '[Peer]',
      '[peer',
      `PrivateKey = ${b64(SELF.privateKey)}`,
      `PublicKey = ${b64(PEER_A.publicKey)}`,
      `PublicKey = ${b64(PEER_B.publicKey)}`,
      `PublicKey = ${b64(SELF.publicKey)}`,
      'PublicKey = AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
      `PresharedKey = ${PSK}`,
      'Address = 10.0.0.1/24, fd00::1/64',
      'AllowedIPs = 10.0.0.0/24, ::/0',
      'AllowedIPs = 10.0.0.1/33',
      'Endpoint = host.example:1',
      'Endpoint = [::1]:0',
      'MTU = 1000',
      'ListenPort = 70000',
      'PersistentKeepalive = off',
      'DNS = 1.1.1.1',
      '# comment',
      '',
      '=',
      '\u0000',
    );
    const assembled = fc.array(fc.oneof(fragments, fc.string({ maxLength: 12 })), { maxLength: 12 });
    const check = (input: string | Uint8Array): void => {
      try {
        parseWgQuickConfig(input);
      } catch (err) {
        if (!(err instanceof QuickConfigError)) throw err;
      }
    };
    fc.assert(fc.property(assembled, (lines) => check(lines.join('\n'))));
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), check));
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), check));
  });
});

describe('parseWgQuickConfig refuses, naming the line', () => {
  test('wg-quick keys meshguard does not implement', () => {
    const keys = ['DNS', 'Table', 'PreUp', 'PostUp', 'PreDown', 'PostDown', 'SaveConfig', 'FwMark'];
    for (const key of keys) {
      const text = `[Interface]\nPrivateKey = ${b64(SELF.privateKey)}\n${key.toLowerCase()} = x\n`;
      assertLineError(text, 3, new RegExp(`not supported by meshguard wg: ${key}`));
      assertLineError(base(`${key} = 1`), 6, /not supported by meshguard wg/);
    }
  });

  test('unknown, misplaced and sectionless keys, and bad sections', () => {
    assertLineError(base('Foo = bar'), 6, /unknown key "Foo" in \[Peer\]/);
    assertLineError('[Interface]\nListenPorts = 1\n', 2, /unknown key "ListenPorts" in \[Interface\]/);
    assertLineError('[Interface]\nPublicKey = x\n', 2, /PublicKey belongs in \[Peer\], not \[Interface\]/);
    assertLineError(base('Address = 10.0.0.1/32'), 6, /Address belongs in \[Interface\], not \[Peer\]/);
    assertLineError('# hi\nPrivateKey = x\n', 2, /before any \[Interface\] or \[Peer\]/);
    assertLineError('[Interfaces]\n', 1, /unknown section "\[Interfaces\]"/);
    assertLineError('[Interface\n', 1, /unknown section/);
    assertLineError('[ Interface ]\n', 1, /unknown section/);
    assertLineError(base('[Interface]'), 6, /second \[Interface\] section \(the first is at line 1\)/);
    assertLineError(base('just words'), 6, /expected "Key = value"/);
    assertLineError(base(' = value'), 6, /missing key/);
    assertLineError(base('Endpoint = 1.2.3.4:1\u0007'), 6, /control character/);
    // A key-like line that is really a secret is not echoed into the message.
    const secret = b64(SELF.privateKey);
    for (const line of [`PrivateKey: ${secret}`, `PrivateKey ${secret}`, secret, `[${secret}]`]) {
      const err = assertLineError(`[Interface]\n${line}\n`, 2, /./);
      assert.ok(!err.message.includes(secret.slice(0, 12)), err.message);
    }
  });

  test('whole-file problems', () => {
    assertLineError('', null, /no \[Interface\] section/);
    assertLineError(`[Peer]\nPublicKey = ${b64(PEER_A.publicKey)}\n`, null, /no \[Interface\] section/);
    assertLineError('# c\n[Interface]\nListenPort = 1\n', 2, /\[Interface\] has no PrivateKey/);
    assertLineError(Uint8Array.of(0x5b, 0xff, 0x5d), null, /not valid UTF-8/);
    assertLineError('#'.repeat(MAX_WG_QUICK_CONFIG_BYTES + 1), null, /more than the 1048576 allowed/);
    // The bound is on UTF-8 bytes, not UTF-16 units.
    assertLineError('é'.repeat(MAX_WG_QUICK_CONFIG_BYTES / 2 + 1), null, /bytes, more than/);
    const peers = Array.from({ length: MAX_WG_QUICK_PEERS + 1 }, () => '[Peer]').join('\n');
    assertLineError(`[Interface]\n${peers}\n`, MAX_WG_QUICK_PEERS + 2, /more than 4096 peers/);
  });

  test('keys', () => {
    assertLineError(base('PublicKey = x'), 6, /PublicKey is already set at line 5/);
    assertLineError(`[Interface]\nPrivateKey = ${b64(SELF.privateKey)}\nPrivateKey = x\n`, 3, /already set at line 2/);
    assertLineError('[Interface]\nPrivateKey = \n', 2, /PrivateKey has no value/);
    assertLineError('[Interface]\nPrivateKey = abc\n', 2, /PrivateKey: expected 44 base64 characters/);
    // 'B' in the last place sets bits that 32 bytes do not have.
    assertLineError(`[Interface]\nPrivateKey = ${'A'.repeat(42)}B=\n`, 2, /not canonical base64/);
    assertLineError(`[Interface]\nPrivateKey = ${'A'.repeat(43)}=\n`, 2, /PrivateKey is all zero/);
    assertLineError(base(`PresharedKey = ${'-'.repeat(43)}=`), 6, /PresharedKey: not standard padded base64/);
    assertLineError(
      `[Interface]\nPrivateKey = ${b64(SELF.privateKey)}\n[Peer]\n[Peer]\n`,
      3,
      /\[Peer\] has no PublicKey/,
    );
    const err = assertLineError(
      `[Interface]\nPrivateKey = ${b64(SELF.privateKey)}\n[Peer]\nPublicKey = ${'A'.repeat(43)}=\n`,
      4,
      /all zero/,
    );
    assert.ok(err.cause instanceof InvalidKeyError);
    assertLineError(
      base('', '[Peer]', `PublicKey = ${b64(PEER_A.publicKey)}`),
      8,
      /already used by the peer at line 5/,
    );
    assertLineError(
      `[Interface]\nPrivateKey = ${b64(SELF.privateKey)}\n[Peer]\nPublicKey = ${b64(SELF.publicKey)}\n`,
      4,
      /this interface's own key/,
    );
  });

  test('numbers', () => {
    const iface = (line: string): string => `[Interface]\nPrivateKey = ${b64(SELF.privateKey)}\n${line}\n`;
    assertLineError(iface('ListenPort = 65536'), 3, /ListenPort "65536" is not an integer 0–65535/);
    assertLineError(iface('ListenPort = -1'), 3, /ListenPort/);
    assertLineError(iface('ListenPort = 0x10'), 3, /ListenPort/);
    assertLineError(iface('ListenPort = 1\nListenPort = 2'), 4, /already set at line 3/);
    assertLineError(iface('MTU = 67'), 3, /MTU "67" is not an integer 68–65535/);
    assertLineError(iface('MTU = 1e3'), 3, /MTU/);
    assertLineError(iface('MTU = 1200\nAddress = 10.0.0.1/24, fd00::1/64'), 3, /below 1280.*line 4/);
    assert.equal(parseWgQuickConfig(iface('MTU = 1200\nAddress = 10.0.0.1/24')).interface.mtu, 1200);
    assertLineError(base('PersistentKeepalive = 65536'), 6, /PersistentKeepalive/);
    assertLineError(base('PersistentKeepalive = on'), 6, /PersistentKeepalive "on"/);
    assertLineError(base('PersistentKeepalive ='), 6, /PersistentKeepalive/);
    assert.equal(parseWgQuickConfig(base('PersistentKeepalive = OFF')).peers[0]!.persistentKeepalive, 0);
    assert.equal(parseWgQuickConfig(base('PersistentKeepalive = 65535')).peers[0]!.persistentKeepalive, 65535);
  });

  test('addresses and AllowedIPs', () => {
    const iface = (line: string): string => `[Interface]\nPrivateKey = ${b64(SELF.privateKey)}\n${line}\n`;
    assertLineError(iface('Address ='), 3, /Address has no value/);
    assertLineError(iface('Address = 10.0.0.1/24,,10.0.0.2/24'), 3, /empty entry/);
    assertLineError(iface('Address = 10.0.0.1/24,'), 3, /empty entry/);
    assertLineError(iface('Address = 10.0.0.1 10.0.0.2'), 3, /not an IPv4 address/);
    assertLineError(iface('Address = 10.0.0.01/24'), 3, /not an IPv4 address/);
    assertLineError(iface('Address = fe80::1%eth0/64'), 3, /not an IPv6 address/);
    assertLineError(iface('Address = 10.0.0.1/24\nAddress = 10.0.0.1/24'), 4, /already given at line 3/);
    assertLineError(
      iface(`Address = ${Array.from({ length: 257 }, (_, i) => `10.1.${i >> 8}.${i & 255}`).join(',')}`),
      3,
      /more than 256 addresses/,
    );
    assertLineError(base('AllowedIPs = 10.0.0.0/33'), 6, /prefix length "33" is not 0–32/);
    assertLineError(base('AllowedIPs = ::/129'), 6, /prefix length "129" is not 0–128/);
    assertLineError(base('AllowedIPs = 10.0.0.0/024'), 6, /prefix length "024"/);
    assertLineError(base('AllowedIPs = 10.0.0.0/'), 6, /prefix length ""/);
    assertLineError(base('AllowedIPs = 10.0.0.0/24, 10.0.0.7/24'), 6, /10\.0\.0\.0\/24 is already listed at line 6/);
    assertLineError(
      base('AllowedIPs = 0.0.0.0/0', '[Peer]', `PublicKey = ${b64(PEER_B.publicKey)}`, 'AllowedIPs = 1.2.3.4/0'),
      9,
      /0\.0\.0\.0\/0 is already listed at line 6/,
    );
  });

  test('endpoints', () => {
    const cases: [string, RegExp][] = [
      ['1.2.3.4', /has no :port/],
      ['1.2.3.4:0', /port "0" is not 1–65535/],
      ['1.2.3.4:65536', /port "65536"/],
      ['1.2.3.4:', /port ""/],
      ['1.2.3.4:+1', /port "\+1"/],
      ['2001:db8::1:51820', /write an IPv6 endpoint as \[address\]:port/],
      ['[2001:db8::1]51820', /not of the form \[address\]:port/],
      ['[2001:db8::1', /not of the form/],
      ['[fe80::1%eth0]:1', /zone identifiers are not supported/],
      ['[1.2.3.4]:1', /not an IPv6 address/],
      ['10.0.0.256:1', /neither an IP address nor a valid host name/],
      ['010.0.0.1:1', /neither an IP address nor a valid host name/],
      ['-bad.example:1', /valid host name/],
      ['under_score.example:1', /valid host name/],
      [':1', /valid host name/],
      [`${'a'.repeat(64)}.example:1`, /valid host name/],
    ];
    for (const [endpoint, message] of cases) {
      assertLineError(base(`Endpoint = ${endpoint}`), 6, message);
    }
    assertLineError(base('Endpoint = a:1', 'Endpoint = b:2'), 7, /already set at line 6/);
    const ok = (endpoint: string): unknown => parseWgQuickConfig(base(`Endpoint = ${endpoint}`)).peers[0]!.endpoint;
    assert.deepEqual(ok('host.:1'), { family: 'hostname', hostname: 'host.', port: 1 });
    assert.deepEqual(ok('localhost:65535'), { family: 'hostname', hostname: 'localhost', port: 65535 });
    assert.deepEqual(ok('[::ffff:1.2.3.4]:9'), { family: 6, address: '::ffff:102:304', port: 9 });
  });
});
