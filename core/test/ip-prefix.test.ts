import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  ArgumentError,
  checkIpPrefix,
  formatIpPrefix,
  formatIPv4,
  formatIPv6,
  hasHostBits,
  ipPrefixKey,
  maskIpPrefix,
  parseIpPrefix,
  type IpPrefix,
} from '../src/index.js';
import { assertDecodeError, decodesOrRejects, ipBytes as ip } from '../src/testing/index.js';

/** How wg-quick and UAPI read AllowedIPs: masked, DecodeError, and (for UAPI) a length required. */
const network = (text: string, bare = false): IpPrefix =>
  parseIpPrefix(text, { hostBits: 'clear', bareAddress: bare ? 'host' : 'refuse', what: 'p', error: 'decode' });
/** How wg-quick reads Address: host bits kept. */
const hostAddress = (text: string): IpPrefix =>
  parseIpPrefix(text, { bareAddress: 'refuse', what: 'p', error: 'decode' });

/** Clears host bits without the code under test, as the oracle for it. */
function oracleMask(bytes: Uint8Array, prefixLength: number): Uint8Array {
  return bytes.map((b, i) => b & ((0xff00 >> Math.min(8, Math.max(0, prefixLength - 8 * i))) & 0xff));
}

/** A network (host bits zero) or, with `network` false, an address with any host bits. */
function arbPrefix(network: boolean): fc.Arbitrary<IpPrefix> {
  const of = (family: 4 | 6, bytes: number): fc.Arbitrary<IpPrefix> =>
    fc
      .tuple(fc.uint8Array({ minLength: bytes, maxLength: bytes }), fc.integer({ min: 0, max: bytes * 8 }))
      .map(([b, len]) => ({ family, address: network ? oracleMask(b, len) : b, prefixLength: len }));
  return fc.oneof(of(4, 4), of(6, 16));
}

describe('parseIpPrefix with the defaults (host bits kept, bare address a host, ArgumentError)', () => {
  it('reads IPv4 and IPv6 prefixes', () => {
    assert.deepEqual(parseIpPrefix('10.99.1.2/16'), {
      family: 4,
      address: Uint8Array.of(10, 99, 1, 2),
      prefixLength: 16,
    });
    const v6 = parseIpPrefix('fd99:6d67::1/64');
    assert.equal(v6.family, 6);
    assert.equal(v6.prefixLength, 64);
    assert.deepEqual([...v6.address], [0xfd, 0x99, 0x6d, 0x67, ...new Array<number>(11).fill(0), 1]);
    assert.equal(parseIpPrefix('0.0.0.0/0').prefixLength, 0);
    assert.equal(parseIpPrefix('::/0').prefixLength, 0);
    assert.deepEqual(parseIpPrefix('10.99.0.0/16'), { family: 4, address: ip('10.99.0.0'), prefixLength: 16 });
    assert.deepEqual(parseIpPrefix('fd99:6d67::/64'), { family: 6, address: ip('fd99:6d67::'), prefixLength: 64 });
    assert.equal(parseIpPrefix('::ffff:1.2.3.4/96').family, 6);
  });

  it('reads a bare address as a host prefix', () => {
    assert.equal(parseIpPrefix('10.0.0.1').prefixLength, 32);
    assert.equal(parseIpPrefix('fd00::1').prefixLength, 128);
    assert.deepEqual(parseIpPrefix('10.99.0.7'), { family: 4, address: ip('10.99.0.7'), prefixLength: 32 });
    assert.deepEqual(parseIpPrefix('::1'), { family: 6, address: ip('::1'), prefixLength: 128 });
  });

  it('refuses what is not an address or prefix length', () => {
    for (const text of [
      '',
      '/8',
      '/24',
      'x/8',
      '10.0.0.0/',
      '10.0.0.1/',
      '10.0.0.0/33',
      '10.0.0.1/33',
      '10.0.0.0/-1',
      '10.0.0.1/-1',
      '10.0.0.0/08',
      '10.0.0.1/08',
      '10.0.0.1/ 8',
      '10.0.0.1/1e1',
      '10.0.0/8',
      '10.0.0/24',
      '10.0.0.256/24',
      '::/129',
      'fd00::1/129',
      'fd00::1%eth0/64',
      'fd00:::1/64',
      '10.0.0.1/24/1',
      'example.com/24',
    ]) {
      assert.throws(() => parseIpPrefix(text), ArgumentError, JSON.stringify(text));
    }
  });

  it('returns a prefix or an ArgumentError for any string', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        try {
          const p = parseIpPrefix(text);
          assert.ok(p.prefixLength >= 0 && p.prefixLength <= p.address.length * 8);
        } catch (err) {
          assert.ok(err instanceof ArgumentError);
        }
      }),
    );
  });
});

describe('parseIpPrefix options', () => {
  it('networks are masked, addresses keep host bits, text is canonical', () => {
    assert.equal(formatIpPrefix(network('10.1.2.3/8')), '10.0.0.0/8');
    assert.equal(formatIpPrefix(hostAddress('10.1.2.3/8')), '10.1.2.3/8');
    assert.equal(formatIpPrefix(network('10.1.2.255/31')), '10.1.2.254/31');
    assert.equal(formatIpPrefix(network('FD00:0:0:0:1:2:3:4/65')), 'fd00::/65');
    assert.equal(formatIpPrefix(network('fd00::ffff:1/127')), 'fd00::ffff:0/127');
    assert.equal(formatIpPrefix(network('1.2.3.4', true)), '1.2.3.4/32');
    assert.equal(formatIpPrefix(network('::1', true)), '::1/128');
    assert.equal(formatIpPrefix(network('255.255.255.255/0')), '0.0.0.0/0');
  });

  it('errors name what was parsed, the family meant and the bad part', () => {
    assertDecodeError(() => network('1.2.3.4'), /^p: "1\.2\.3\.4" has no \/prefix length$/);
    assertDecodeError(() => network('1.2.3.4/-1'), /prefix length "-1"/);
    assertDecodeError(() => network('1.2.3.4/1/2'), /prefix length "1\/2"/);
    assertDecodeError(() => network('/8'), /"" is not an IPv4 address/);
    assertDecodeError(() => network('10.0.0.0/33'), /prefix length "33" is not 0–32/);
    assertDecodeError(() => network('::/129'), /prefix length "129" is not 0–128/);
    assertDecodeError(() => hostAddress('fe80::1%eth0/64'), /"fe80::1%eth0" is not an IPv6 address/);
    assert.throws(() => parseIpPrefix('10.0.0.01/24'), {
      name: 'ArgumentError',
      message: 'IP prefix: "10.0.0.01" is not an IPv4 address',
    });
    assert.throws(() => parseIpPrefix('1.2.3.4', { bareAddress: 'refuse' }), ArgumentError);
  });

  it('hostBits refuse: a route must name its network', () => {
    const route = (text: string): IpPrefix => parseIpPrefix(text, { hostBits: 'refuse', what: 'route' });
    assert.deepEqual(route('10.98.0.0/16'), { family: 4, address: ip('10.98.0.0'), prefixLength: 16 });
    assert.equal(route('fd99:6d67::1').prefixLength, 128, 'a host route has no host bits');
    assert.throws(
      () => route('10.98.0.1/16'),
      (err: unknown) => {
        assert.ok(err instanceof ArgumentError);
        assert.equal(err.message, 'route: "10.98.0.1/16" has host bits set; give the network prefix');
        return true;
      },
    );
    assertDecodeError(
      () => parseIpPrefix('fd99:6d67::1/64', { hostBits: 'refuse', error: 'decode' }),
      /has host bits set/,
    );
  });

  it('round trips, and masking is idempotent', () => {
    fc.assert(
      fc.property(arbPrefix(true), (p) => {
        assert.deepEqual(network(formatIpPrefix(p)), p);
      }),
    );
    fc.assert(
      fc.property(arbPrefix(false), (p) => {
        assert.deepEqual(hostAddress(formatIpPrefix(p)), p);
        const masked = network(formatIpPrefix(p));
        assert.deepEqual(network(formatIpPrefix(masked)), masked);
        assert.deepEqual(masked.address, oracleMask(p.address, p.prefixLength));
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 50 }), fc.boolean(), (s, bare) => decodesOrRejects(() => network(s, bare))),
    );
  });
});

describe('formatIpPrefix, ipPrefixKey', () => {
  it('formats canonically', () => {
    assert.equal(formatIpPrefix(parseIpPrefix('0.0.0.0/0')), '0.0.0.0/0');
    assert.equal(formatIpPrefix(parseIpPrefix('fd99:6d67::1/128')), 'fd99:6d67::1/128');
    assert.equal(formatIpPrefix({ family: 6, address: ip('FD99:6D67:0:0::1'), prefixLength: 64 }), 'fd99:6d67::1/64');
    fc.assert(
      fc.property(arbPrefix(false), (p) => {
        const address = p.family === 4 ? formatIPv4(p.address) : formatIPv6(p.address);
        assert.equal(formatIpPrefix(p), `${address}/${p.prefixLength}`);
      }),
    );
  });

  it('keys are equal exactly for equal prefixes', () => {
    assert.equal(ipPrefixKey(parseIpPrefix('fd00:0::1/64')), ipPrefixKey(parseIpPrefix('FD00::1/64')));
    assert.notEqual(ipPrefixKey(parseIpPrefix('10.0.0.1/24')), ipPrefixKey(parseIpPrefix('10.0.0.0/24')));
    assert.notEqual(ipPrefixKey(parseIpPrefix('10.0.0.0/24')), ipPrefixKey(parseIpPrefix('10.0.0.0/25')));
    assert.notEqual(ipPrefixKey(parseIpPrefix('::/0')), ipPrefixKey(parseIpPrefix('0.0.0.0/0')));
  });
});

describe('hasHostBits, maskIpPrefix', () => {
  it('tells a network prefix from a host address', () => {
    assert.equal(hasHostBits(parseIpPrefix('10.98.0.0/16')), false);
    assert.equal(hasHostBits(parseIpPrefix('10.98.0.1/16')), true);
    assert.equal(hasHostBits(parseIpPrefix('10.98.128.0/17')), false);
    assert.equal(hasHostBits(parseIpPrefix('10.98.128.0/16')), true);
    assert.equal(hasHostBits(parseIpPrefix('fd99:6d67::/64')), false);
    assert.equal(hasHostBits(parseIpPrefix('fd99:6d67::1/64')), true);
    assert.equal(hasHostBits(parseIpPrefix('fd99:6d67::1')), false);
  });

  it('masks into a copy, leaving no host bits', () => {
    const p = parseIpPrefix('10.1.2.3/12');
    assert.deepEqual(maskIpPrefix(p), { family: 4, address: ip('10.0.0.0'), prefixLength: 12 });
    assert.deepEqual(p.address, ip('10.1.2.3'), 'the input is not modified');
    fc.assert(
      fc.property(arbPrefix(false), (q) => {
        const masked = maskIpPrefix(q);
        assert.equal(hasHostBits(masked), false);
        assert.deepEqual(masked.address, oracleMask(q.address, q.prefixLength));
        assert.equal(hasHostBits(q), !masked.address.every((b, i) => b === q.address[i]));
      }),
    );
  });
});

describe('checkIpPrefix', () => {
  it('accepts what the parser returns and refuses mismatched hand-built prefixes', () => {
    fc.assert(fc.property(arbPrefix(false), (p) => assert.equal(checkIpPrefix(p), p)));
    for (const [bad, message] of [
      [{ family: 4, address: new Uint8Array(16), prefixLength: 8 }, /IPv4 address is 4 bytes, got 16/],
      [{ family: 6, address: new Uint8Array(4), prefixLength: 8 }, /IPv6 address is 16 bytes, got 4/],
      [{ family: 6, address: new Uint8Array(16), prefixLength: 129 }, /0–128, got 129/],
      [{ family: 4, address: new Uint8Array(4), prefixLength: 1.5 }, /0–32, got 1.5/],
      [{ family: 4, address: new Uint8Array(4), prefixLength: -1 }, /0–32, got -1/],
    ] as const) {
      assert.throws(
        () => checkIpPrefix(bad),
        (err: unknown) => err instanceof ArgumentError && message.test(err.message),
      );
    }
  });
});
