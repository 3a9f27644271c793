import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ArgumentError, formatIpPrefix } from '@meshguard/core';
import { ipBytes as ip } from '@meshguard/core/testing';
import { AllowedIps } from '../../src/wireguard/allowed-ips.js';

const prefixTexts = (table: AllowedIps<string>, value: string): string[] => table.prefixesOf(value).map(formatIpPrefix);

test('longest prefix wins among overlapping IPv4 prefixes, /0 catches the rest', () => {
  const t = new AllowedIps<string>();
  t.insert('0.0.0.0/0', 'default');
  t.insert('10.0.0.0/8', 'ten');
  t.insert('10.99.0.0/16', 'mesh');
  t.insert('10.99.0.7/32', 'host');
  assert.equal(t.lookup(ip('10.99.0.7')), 'host');
  assert.equal(t.lookup(ip('10.99.0.8')), 'mesh');
  assert.equal(t.lookup(ip('10.98.255.255')), 'ten');
  assert.equal(t.lookup(ip('11.0.0.0')), 'default');
  assert.equal(t.lookup(ip('255.255.255.255')), 'default');
  assert.equal(t.size, 4);
});

test('without a covering prefix the lookup misses; the families are separate', () => {
  const t = new AllowedIps<string>();
  t.insert('10.99.0.1/32', 'a');
  t.insert('::/0', 'v6-default');
  assert.equal(t.lookup(ip('10.99.0.2')), undefined);
  assert.equal(t.lookup(ip('10.99.0.1')), 'a');
  assert.equal(t.lookup(ip('::a63:1')), 'v6-default', 'an IPv6 address with the same low bits is not the IPv4 host');
  assert.equal(new AllowedIps<string>().lookup(ip('1.2.3.4')), undefined);
});

test('IPv6 /128, /64 and /0', () => {
  const t = new AllowedIps<string>();
  t.insert('fd99:6d67::/64', 'mesh');
  t.insert('fd99:6d67::1/128', 'one');
  t.insert('::/0', 'default');
  assert.equal(t.lookup(ip('fd99:6d67::1')), 'one');
  assert.equal(t.lookup(ip('fd99:6d67::2')), 'mesh');
  assert.equal(t.lookup(ip('fd99:6d67:0:1::1')), 'default');
  // Differences in the last bit and in each 32-bit word are all seen.
  t.insert('fd99:6d67::ffff:fffe/128', 'even');
  assert.equal(t.lookup(ip('fd99:6d67::ffff:fffe')), 'even');
  assert.equal(t.lookup(ip('fd99:6d67::ffff:ffff')), 'mesh');
  assert.equal(t.lookup(ip('fd99:6d67:0:0:1::ffff:fffe')), 'mesh');
});

test('host bits are cleared on insert, as wg does', () => {
  const t = new AllowedIps<string>();
  t.insert('10.99.3.7/16', 'mesh');
  t.insert({ family: 6, address: ip('fd99:6d67::1234'), prefixLength: 64 }, 'mesh');
  assert.deepEqual(prefixTexts(t, 'mesh'), ['10.99.0.0/16', 'fd99:6d67::/64']);
  assert.equal(t.lookup(ip('10.99.200.1')), 'mesh');
  t.insert('10.99.0.0/16', 'other');
  assert.equal(t.size, 2, '10.99.0.0/16 and 10.99.3.7/16 are the same prefix');
});

test('inserting an identical prefix moves it to the new owner', () => {
  const t = new AllowedIps<string>();
  t.insert('10.99.0.7/32', 'a');
  t.insert('10.99.0.0/16', 'a');
  t.insert('10.99.0.7/32', 'b');
  assert.equal(t.lookup(ip('10.99.0.7')), 'b');
  assert.deepEqual(prefixTexts(t, 'a'), ['10.99.0.0/16']);
  assert.deepEqual(prefixTexts(t, 'b'), ['10.99.0.7/32']);
  assert.equal(t.size, 2);
});

test('removeValue drops all of a peer’s prefixes and keeps the others reachable', () => {
  const t = new AllowedIps<string>();
  t.insert('10.99.0.0/16', 'mesh');
  t.insert('10.99.0.1/32', 'a');
  t.insert('10.99.0.2/32', 'b');
  t.insert('fd99:6d67::1/128', 'a');
  t.insert('10.0.0.0/8', 'a');
  assert.equal(t.removeValue('a'), 3);
  assert.equal(t.removeValue('a'), 0);
  assert.equal(t.size, 2);
  assert.equal(t.lookup(ip('10.99.0.1')), 'mesh');
  assert.equal(t.lookup(ip('10.99.0.2')), 'b');
  assert.equal(t.lookup(ip('10.1.0.0')), undefined);
  assert.equal(t.lookup(ip('fd99:6d67::1')), undefined);
  assert.deepEqual(t.prefixesOf('a'), []);
  // Removing a covering prefix must not orphan the ones below it.
  t.removeValue('mesh');
  assert.equal(t.lookup(ip('10.99.0.2')), 'b');
  assert.equal(t.lookup(ip('10.99.0.1')), undefined);
});

test('prefixesOf lists IPv4 then IPv6, each in address order', () => {
  const t = new AllowedIps<string>();
  for (const p of ['fd99:6d67::2/128', '10.99.0.9/32', '10.99.0.0/16', 'fd99:6d67::/64', '10.1.0.0/16'])
    t.insert(p, 'x');
  assert.deepEqual(prefixTexts(t, 'x'), [
    '10.1.0.0/16',
    '10.99.0.0/16',
    '10.99.0.9/32',
    'fd99:6d67::/64',
    'fd99:6d67::2/128',
  ]);
});

test('clear empties both families', () => {
  const t = new AllowedIps<string>();
  t.insert('0.0.0.0/0', 'a');
  t.insert('::/0', 'a');
  t.clear();
  assert.equal(t.size, 0);
  assert.equal(t.lookup(ip('1.1.1.1')), undefined);
  assert.equal(t.lookup(ip('::1')), undefined);
  t.insert('1.0.0.0/8', 'b');
  assert.equal(t.lookup(ip('1.1.1.1')), 'b');
});

test('lookups straight out of packet headers', () => {
  const t = new AllowedIps<string>();
  t.insert('10.99.0.1/32', 'src-peer');
  t.insert('10.99.0.2/32', 'dst-peer');
  t.insert('fd99:6d67::1/128', 'src-peer');
  t.insert('fd99:6d67::2/128', 'dst-peer');

  const v4 = new Uint8Array(20);
  v4.set(ip('10.99.0.1'), 12);
  v4.set(ip('10.99.0.2'), 16);
  assert.equal(t.lookupIPv4At(v4, 12), 'src-peer');
  assert.equal(t.lookupIPv4At(v4, 16), 'dst-peer');

  const v6 = new Uint8Array(40);
  v6.set(ip('fd99:6d67::1'), 8);
  v6.set(ip('fd99:6d67::2'), 24);
  assert.equal(t.lookupIPv6At(v6, 8), 'src-peer');
  assert.equal(t.lookupIPv6At(v6, 24), 'dst-peer');

  // Offsets into a larger buffer, as with a batch of packets in one allocation.
  const batch = new Uint8Array(100);
  batch.set(v6, 60);
  assert.equal(t.lookupIPv6At(batch, 60 + 24), 'dst-peer');
  assert.equal(t.lookupIPv6At(batch.subarray(60), 8), 'src-peer');

  for (const offset of [-1, 17, 0.5, NaN])
    assert.throws(() => t.lookupIPv4At(v4, offset), ArgumentError, String(offset));
  assert.throws(() => t.lookupIPv6At(v6, 25), ArgumentError);
});

test('bad prefixes and addresses are ArgumentErrors', () => {
  const t = new AllowedIps<string>();
  assert.throws(() => t.insert('10.0.0.0/40', 'a'), ArgumentError);
  assert.throws(() => t.insert({ family: 4, address: new Uint8Array(16), prefixLength: 8 }, 'a'), ArgumentError);
  assert.throws(() => t.insert({ family: 6, address: new Uint8Array(16), prefixLength: 129 }, 'a'), ArgumentError);
  assert.throws(() => t.insert({ family: 4, address: new Uint8Array(4), prefixLength: 1.5 }, 'a'), ArgumentError);
  assert.throws(() => t.lookup(new Uint8Array(5)), ArgumentError);
  assert.equal(t.size, 0);
});

test('values are compared by identity, so object peers work', () => {
  const peerA = { name: 'a' };
  const peerB = { name: 'a' };
  const t = new AllowedIps<{ name: string }>();
  t.insert('10.99.0.1/32', peerA);
  t.insert('10.99.0.2/32', peerB);
  assert.equal(t.lookup(ip('10.99.0.1')), peerA);
  t.removeValue(peerA);
  assert.equal(t.lookup(ip('10.99.0.2')), peerB);
});

// --- property test against a linear scan ------------------------------------------------------

interface ModelEntry {
  readonly family: 4 | 6;
  readonly address: Uint8Array;
  readonly prefixLength: number;
  value: number;
}

function maskBytes(address: Uint8Array, prefixLength: number): Uint8Array {
  return address.map((byte, i) => {
    const bits = Math.max(0, Math.min(8, prefixLength - 8 * i));
    return byte & ((0xff << (8 - bits)) & 0xff);
  });
}

function covers(entry: ModelEntry, address: Uint8Array): boolean {
  return (
    address.length === entry.address.length &&
    maskBytes(address, entry.prefixLength).every((byte, i) => byte === entry.address[i])
  );
}

class LinearTable {
  readonly entries: ModelEntry[] = [];

  insert(family: 4 | 6, address: Uint8Array, prefixLength: number, value: number): void {
    const masked = maskBytes(address, prefixLength);
    const same = this.entries.find(
      (e) => e.family === family && e.prefixLength === prefixLength && e.address.every((b, i) => b === masked[i]),
    );
    if (same === undefined) this.entries.push({ family, address: masked, prefixLength, value });
    else same.value = value;
  }

  removeValue(value: number): void {
    for (let i = this.entries.length - 1; i >= 0; i--) if (this.entries[i]!.value === value) this.entries.splice(i, 1);
  }

  lookup(address: Uint8Array): number | undefined {
    let best: ModelEntry | undefined;
    for (const e of this.entries) {
      if (covers(e, address) && (best === undefined || e.prefixLength > best.prefixLength)) best = e;
    }
    return best?.value;
  }
}

// Bytes from a small alphabet make prefixes share long leading runs, so they overlap and nest
// far more often than uniformly random addresses would.
const arbByte = fc.constantFrom(0x00, 0x01, 0x0a, 0x63, 0x80, 0xfe, 0xff);
const arbV4 = fc.array(arbByte, { minLength: 4, maxLength: 4 });
const arbV6 = fc.array(arbByte, { minLength: 16, maxLength: 16 });
const arbAddress = fc.oneof(arbV4, arbV6).map((bytes) => Uint8Array.from(bytes));

const arbOp = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('insert' as const),
      address: arbAddress,
      prefixFraction: fc.double({ min: 0, max: 1, noNaN: true }),
      edge: fc.constantFrom('any', 'zero', 'full'),
      value: fc.nat({ max: 5 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), value: fc.nat({ max: 5 }) }) },
);

test('property: lookup, prefixesOf and size agree with a linear scan', () => {
  fc.assert(
    fc.property(fc.array(arbOp, { maxLength: 60 }), fc.array(arbAddress, { maxLength: 40 }), (ops, probes) => {
      const real = new AllowedIps<number>();
      const model = new LinearTable();
      for (const op of ops) {
        if (op.kind === 'remove') {
          real.removeValue(op.value);
          model.removeValue(op.value);
          continue;
        }
        const family = op.address.length === 4 ? 4 : 6;
        const max = op.address.length * 8;
        const prefixLength = op.edge === 'zero' ? 0 : op.edge === 'full' ? max : Math.round(op.prefixFraction * max);
        real.insert({ family, address: op.address, prefixLength }, op.value);
        model.insert(family, op.address, prefixLength, op.value);
      }
      assert.equal(real.size, model.entries.length);
      // Probe the inserted addresses themselves (exact and host-bit hits) plus random ones.
      const inserted = ops.flatMap((op) => (op.kind === 'insert' ? [op.address] : []));
      for (const address of [...inserted, ...probes]) {
        assert.equal(real.lookup(address), model.lookup(address), formatProbe(address));
      }
      for (let value = 0; value <= 5; value++) {
        const expected = model.entries
          .filter((e) => e.value === value)
          .map(formatIpPrefix)
          .sort();
        assert.deepEqual(real.prefixesOf(value).map(formatIpPrefix).sort(), expected);
      }
    }),
    { numRuns: 1000 },
  );
});

function formatProbe(address: Uint8Array): string {
  return formatIpPrefix({ family: address.length === 4 ? 4 : 6, address, prefixLength: address.length * 8 });
}
