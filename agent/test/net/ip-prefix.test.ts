import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ArgumentError } from '@meshguard/core';
import { hasHostBits, parseIpPrefix } from '../../src/net/ip-prefix.js';

describe('parseIpPrefix', () => {
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
  });

  it('reads a bare address as a host prefix', () => {
    assert.equal(parseIpPrefix('10.0.0.1').prefixLength, 32);
    assert.equal(parseIpPrefix('fd00::1').prefixLength, 128);
  });

  it('refuses what is not an address or prefix length', () => {
    for (const text of [
      '',
      '/24',
      '10.0.0.1/',
      '10.0.0.1/33',
      '10.0.0.1/-1',
      '10.0.0.1/08',
      '10.0.0.1/ 8',
      '10.0.0.1/1e1',
      '10.0.0/24',
      '10.0.0.256/24',
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

describe('hasHostBits', () => {
  it('tells a network prefix from a host address', () => {
    assert.equal(hasHostBits(parseIpPrefix('10.98.0.0/16')), false);
    assert.equal(hasHostBits(parseIpPrefix('10.98.0.1/16')), true);
    assert.equal(hasHostBits(parseIpPrefix('10.98.128.0/17')), false);
    assert.equal(hasHostBits(parseIpPrefix('10.98.128.0/16')), true);
    assert.equal(hasHostBits(parseIpPrefix('fd99:6d67::/64')), false);
    assert.equal(hasHostBits(parseIpPrefix('fd99:6d67::1/64')), true);
    assert.equal(hasHostBits(parseIpPrefix('fd99:6d67::1')), false);
  });
});
