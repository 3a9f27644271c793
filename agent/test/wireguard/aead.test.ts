import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { hex, toHexStr } from '@meshguard/core/testing';
import { AeadBatch, open, openBatch, openInto, seal, sealBatch, sealInto } from '../../src/wireguard/aead.js';
import { aeadBackend, aeadPrimitives, nodeCryptoAead, type AeadPrimitives } from '../../src/wireguard/aead-binding.js';

const TAG = 16;
const onLinux = process.platform === 'linux';

/** node:crypto with a fresh cipher per message: the independent reference everything is checked against. */
function reference(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array | null): Uint8Array {
  const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG });
  if (ad !== null) cipher.setAAD(ad, { plaintextLength: plaintext.length });
  const body = cipher.update(plaintext);
  cipher.final();
  return new Uint8Array(Buffer.concat([body, cipher.getAuthTag()]));
}

/** WireGuard's nonce: 4 zero bytes ‖ LE64(counter). */
function wgNonce(counter: number): Uint8Array {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64LE(BigInt(counter), 4);
  return new Uint8Array(nonce);
}

const key32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
const counter = fc.oneof(fc.maxSafeNat(), fc.integer({ min: 0, max: 1000 }), fc.constant(Number.MAX_SAFE_INTEGER));
const body = fc.integer({ min: 0, max: 2000 }).chain((n) => fc.uint8Array({ minLength: n, maxLength: n }));
const ad = fc.option(fc.uint8Array({ maxLength: 80 }), { nil: null });

// RFC 8439 §2.8.2. Its nonce (07000000 ‖ 4041424344454647) is not WireGuard-shaped, so it goes
// through the primitives' explicit-nonce form, which shares every other line with the counter form.
const RFC_KEY = hex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f');
const RFC_NONCE = hex('070000004041424344454647');
const RFC_AD = hex('50515253c0c1c2c3c4c5c6c7');
const RFC_PLAINTEXT = new TextEncoder().encode(
  "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
);
const RFC_SEALED =
  'd31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b' +
  '1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc' +
  '3ff4def08e4b7a9de576d26586cec64b6116' +
  '1ae10b594f09e26a7e902ecbd0600691'; // tag

const backends: [string, () => AeadPrimitives][] = [['node:crypto fallback', () => nodeCryptoAead]];
if (onLinux) backends.unshift(['native addon', aeadPrimitives]);

it('uses the native addon on Linux', { skip: !onLinux }, () => {
  assert.equal(aeadBackend(), 'native');
});

for (const [name, primitives] of backends) {
  describe(`ChaCha20-Poly1305 primitives: ${name}`, () => {
    it('RFC 8439 §2.8.2 AEAD test vector', () => {
      const p = primitives();
      const sealed = new Uint8Array(RFC_PLAINTEXT.length + TAG);
      const n = p.aeadSeal(RFC_KEY, RFC_NONCE, RFC_PLAINTEXT, 0, RFC_PLAINTEXT.length, sealed, 0, RFC_AD);
      assert.equal(n, RFC_PLAINTEXT.length + TAG);
      assert.equal(toHexStr(sealed), RFC_SEALED);
      const opened = new Uint8Array(RFC_PLAINTEXT.length);
      assert.equal(p.aeadOpen(RFC_KEY, RFC_NONCE, sealed, 0, sealed.length, opened, 0, RFC_AD), RFC_PLAINTEXT.length);
      assert.deepEqual(opened, RFC_PLAINTEXT);
      assert.equal(p.aeadOpen(RFC_KEY, RFC_NONCE, sealed, 0, sealed.length, opened, 0, null), -1, 'AD is bound');
    });

    it('matches node:crypto for random keys, counters, lengths 0..2000, AD and offsets', () => {
      const p = primitives();
      fc.assert(
        fc.property(key32, counter, body, ad, fc.nat(40), fc.nat(40), (key, c, plaintext, a, srcPad, dstPad) => {
          const expected = reference(key, wgNonce(c), plaintext, a);
          const src = new Uint8Array(srcPad + plaintext.length + 7).fill(0xee);
          src.set(plaintext, srcPad);
          const dst = new Uint8Array(dstPad + expected.length + 5).fill(0xdd);
          assert.equal(p.aeadSeal(key, c, src, srcPad, plaintext.length, dst, dstPad, a), expected.length);
          assert.deepEqual(dst.subarray(dstPad, dstPad + expected.length), expected);
          assert.ok(dst.subarray(0, dstPad).every((x) => x === 0xdd) && dst.subarray(-5).every((x) => x === 0xdd));

          const back = new Uint8Array(plaintext.length + 3).fill(0xcc);
          assert.equal(p.aeadOpen(key, c, dst, dstPad, expected.length, back, 1, a), plaintext.length);
          assert.deepEqual(back.subarray(1, 1 + plaintext.length), plaintext);
          assert.ok(back[0] === 0xcc && back.subarray(-2).every((x) => x === 0xcc), 'nothing outside the range');
        }),
        { numRuns: 300 },
      );
    });

    it('rejects every single-byte change to ciphertext, tag or AD, and zeroes its output', () => {
      const p = primitives();
      fc.assert(
        fc.property(
          key32,
          counter,
          body,
          fc.uint8Array({ minLength: 1, maxLength: 40 }),
          fc.nat(),
          fc.integer({ min: 1, max: 255 }),
          fc.boolean(),
          (key, c, plaintext, a, where, mask, inAd) => {
            const sealed = reference(key, wgNonce(c), plaintext, a);
            const target = inAd ? a : sealed;
            target[where % target.length]! ^= mask;
            const out = new Uint8Array(plaintext.length).fill(0x55);
            assert.equal(p.aeadOpen(key, c, sealed, 0, sealed.length, out, 0, a), -1);
            assert.ok(out.every((x) => x === 0));
          },
        ),
        { numRuns: 300 },
      );
    });

    it('rejects the wrong key or counter, and messages shorter than a tag', () => {
      const p = primitives();
      const key = new Uint8Array(32).fill(7);
      const sealed = reference(key, wgNonce(5), new Uint8Array(100), null);
      const out = new Uint8Array(100);
      assert.equal(p.aeadOpen(key, 5, sealed, 0, sealed.length, out, 0, null), 100);
      assert.equal(p.aeadOpen(key, 6, sealed, 0, sealed.length, out, 0, null), -1);
      assert.equal(p.aeadOpen(new Uint8Array(32), 5, sealed, 0, sealed.length, out, 0, null), -1);
      for (let n = 0; n < TAG; n++) assert.equal(p.aeadOpen(key, 5, sealed, 0, n, out, 0, null), -1);
    });

    it('seals and opens in place and into shifted, overlapping ranges', () => {
      const p = primitives();
      fc.assert(
        fc.property(key32, counter, body, fc.integer({ min: -40, max: 40 }), (key, c, plaintext, shift) => {
          const expected = reference(key, wgNonce(c), plaintext, null);
          const base = 48;
          const buffer = new Uint8Array(base * 2 + expected.length);
          buffer.set(plaintext, base);
          p.aeadSeal(key, c, buffer, base, plaintext.length, buffer, base + shift, null);
          assert.deepEqual(buffer.subarray(base + shift, base + shift + expected.length), expected);
          const at = base + shift;
          assert.equal(p.aeadOpen(key, c, buffer, at, expected.length, buffer, at - shift, null), plaintext.length);
          assert.deepEqual(buffer.subarray(at - shift, at - shift + plaintext.length), plaintext);
        }),
        { numRuns: 200 },
      );
    });

    it('batch results equal one call per packet, including forged and short packets', () => {
      const p = primitives();
      const packet = fc.record({ c: counter, plaintext: body, forge: fc.constantFrom('no', 'no', 'flip', 'short') });
      fc.assert(
        fc.property(key32, fc.array(packet, { maxLength: 12 }), fc.nat(3), (key, packets, gap) => {
          const batch = new AeadBatch(packets.length + 2); // descriptors may be longer than count
          let srcSize = 0;
          let dstSize = 0;
          packets.forEach(({ c, plaintext }, i) => {
            batch.counters[i] = c;
            batch.srcOffsets[i] = srcSize;
            batch.srcLengths[i] = plaintext.length;
            batch.dstOffsets[i] = dstSize;
            srcSize += plaintext.length + gap;
            dstSize += plaintext.length + TAG + gap;
          });
          const src = new Uint8Array(srcSize);
          packets.forEach(({ plaintext }, i) => src.set(plaintext, batch.srcOffsets[i]));
          const sealed = new Uint8Array(dstSize);
          assert.equal(
            p.aeadSealBatch(
              key,
              batch.counters,
              src,
              batch.srcOffsets,
              batch.srcLengths,
              sealed,
              batch.dstOffsets,
              packets.length,
            ),
            packets.length,
          );
          const single = new Uint8Array(dstSize);
          packets.forEach(({ c, plaintext }, i) =>
            p.aeadSeal(key, c, plaintext, 0, plaintext.length, single, batch.dstOffsets[i]!, null),
          );
          assert.deepEqual(sealed, single);

          // Open the sealed packets back, some of them damaged.
          packets.forEach(({ plaintext, forge }, i) => {
            batch.srcOffsets[i] = batch.dstOffsets[i]!;
            batch.srcLengths[i] = forge === 'short' ? plaintext.length % TAG : plaintext.length + TAG;
            batch.dstOffsets[i] = batch.srcOffsets[i]!; // in place
            if (forge === 'flip')
              sealed[batch.srcOffsets[i] + ((plaintext.length * 7) % (plaintext.length + TAG))]! ^= 0x80;
          });
          const expected = packets.map((_, i) => {
            const out = new Uint8Array(Math.max(0, batch.srcLengths[i]! - TAG));
            const n = p.aeadOpen(
              key,
              batch.counters[i]!,
              sealed,
              batch.srcOffsets[i]!,
              batch.srcLengths[i]!,
              out,
              0,
              null,
            );
            return { n, out };
          });
          const opened = p.aeadOpenBatch(
            key,
            batch.counters,
            sealed,
            batch.srcOffsets,
            batch.srcLengths,
            sealed,
            batch.dstOffsets,
            batch.results,
            packets.length,
          );
          assert.equal(opened, expected.filter(({ n }) => n >= 0).length);
          expected.forEach(({ n, out }, i) => {
            assert.equal(batch.results[i], n);
            assert.equal(n >= 0, packets[i]!.forge === 'no');
            if (n >= 0) {
              assert.deepEqual(sealed.subarray(batch.dstOffsets[i], batch.dstOffsets[i]! + n), out);
              assert.deepEqual(out, packets[i]!.plaintext);
            }
          });
        }),
        { numRuns: 150 },
      );
    });

    it('accepts counters up to 2^53 − 1 and refuses anything else', () => {
      const p = primitives();
      const key = new Uint8Array(32).fill(1);
      const out = new Uint8Array(TAG + 4);
      const max = Number.MAX_SAFE_INTEGER;
      p.aeadSeal(key, max, new Uint8Array(4), 0, 4, out, 0, null);
      assert.deepEqual(out, reference(key, wgNonce(max), new Uint8Array(4), null));
      for (const bad of [max + 1, 2 ** 60, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
        assert.throws(() => p.aeadSeal(key, bad, new Uint8Array(4), 0, 4, out, 0, null), RangeError, String(bad));
        assert.throws(() => p.aeadOpen(key, bad, out, 0, out.length, out, 0, null), RangeError, String(bad));
      }
    });
  });
}

describe('ChaCha20-Poly1305 native argument checks', { skip: !onLinux }, () => {
  const p = (): AeadPrimitives => aeadPrimitives();
  const key = new Uint8Array(32).fill(3);
  const src = new Uint8Array(64).fill(0x11);
  const range = { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' };
  const type = { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' };

  /** The call must throw `expected` and leave dst exactly as it was. */
  function refused(expected: object, call: (dst: Uint8Array) => unknown): void {
    const dst = new Uint8Array(64 + TAG).fill(0x77);
    assert.throws(() => call(dst), expected);
    assert.ok(
      dst.every((x) => x === 0x77),
      'dst untouched',
    );
  }

  it('refuses ranges outside src or dst, for seal and open', () => {
    for (const fn of ['aeadSeal', 'aeadOpen'] as const) {
      const f = (...args: Parameters<AeadPrimitives['aeadSeal']>): number => p()[fn](...args);
      refused(range, (d) => f(key, 0, src, 1, 64, d, 0, null)); // offset + length > src.length
      refused(range, (d) => f(key, 0, src, 65, 0, d, 0, null)); // offset > src.length
      refused(range, (d) => f(key, 0, src, 0, 64, d, 81, null)); // dstOffset > dst.length
      refused(range, (d) => f(key, 0, src, 0, 32, d, 2 ** 32, null));
      refused(range, (d) => f(key, 0, src, -1, 8, d, 0, null));
      refused(range, (d) => f(key, 0, src, 0, -8, d, 0, null));
      refused(range, (d) => f(key, 0, src, 0.5, 8, d, 0, null));
      refused(range, (d) => f(key, 0, src, 0, 8, d, Number.NaN, null));
      refused(range, (d) => f(key, 0, src, 0, 2 ** 53, d, 0, null));
      refused(range, (d) => f(new Uint8Array(31), 0, src, 0, 8, d, 0, null));
      refused(range, (d) => f(key, new Uint8Array(11), src, 0, 8, d, 0, null));
      refused(type, (d) => f(key, 0, new Uint16Array(8) as unknown as Uint8Array, 0, 8, d, 0, null));
      refused(type, (d) => f(key, 0, src, '0' as unknown as number, 8, d, 0, null));
      refused(type, (d) => f(key, 0, src, 0, 8, d, 0, 'ad' as unknown as Uint8Array));
      refused(type, (d) => f(new DataView(key.buffer) as unknown as Uint8Array, 0, src, 0, 8, d, 0, null));
      refused(type, (d) => f(key, '1' as unknown as number, src, 0, 8, d, 0, null));
    }
    // The output must fit: seal writes length + 16, open length - 16.
    refused(range, (d) => p().aeadSeal(key, 0, src, 0, 64, d, 1, null));
    refused(range, (d) => p().aeadOpen(key, 0, src, 0, 64, d, d.length - 47, null));
    // Exactly fitting is fine, and so is an empty message at the very end of both buffers.
    const dst = new Uint8Array(64 + TAG);
    assert.equal(p().aeadSeal(key, 0, src, 0, 64, dst, 0, null), 80);
    assert.equal(p().aeadSeal(key, 0, src, 64, 0, dst, 64, null), TAG);
    assert.equal(p().aeadOpen(key, 0, dst, 64, TAG, dst, 80, null), 0);
  });

  it('refuses a whole batch when any packet is out of range, before sealing any', () => {
    const batch = new AeadBatch(4);
    batch.srcLengths.fill(8);
    batch.srcOffsets.set([0, 8, 16, 24]);
    batch.dstOffsets.set([0, 24, 48, 57]); // sealed packets are 24 bytes: 57 + 24 > 80
    const seal4 = (d: Uint8Array, count = 4, dstOffsets = batch.dstOffsets): number =>
      p().aeadSealBatch(key, batch.counters, src, batch.srcOffsets, batch.srcLengths, d, dstOffsets, count);
    const open4 = (d: Uint8Array, count = 4, results = batch.results): number =>
      p().aeadOpenBatch(
        key,
        batch.counters,
        src,
        batch.srcOffsets,
        batch.srcLengths,
        d,
        batch.dstOffsets,
        results,
        count,
      );
    refused(range, (d) => seal4(d)); // packets 0..2 fit, yet none may be sealed
    batch.dstOffsets[3] = 56;
    assert.equal(seal4(new Uint8Array(80)), 4);
    refused(range, (d) => seal4(d, 5)); // count beyond the descriptors
    refused(range, (d) => seal4(d, -1));
    batch.srcOffsets[2] = 60; // 60 + 8 > 64
    refused(range, (d) => seal4(d));
    batch.srcOffsets[2] = 16;
    batch.counters[1] = -1;
    refused(range, (d) => seal4(d));
    refused(range, (d) => open4(d));
    batch.counters[1] = 0;
    const int32Offsets = new Int32Array(4) as unknown as Uint32Array;
    refused(type, (d) => seal4(d, 4, int32Offsets));
    refused(type, (d) => open4(d, 4, new Uint32Array(4) as unknown as Int32Array));
    // Open writes length - 16 per packet (nothing for one shorter than a tag).
    batch.srcLengths.fill(40);
    batch.srcOffsets.fill(0);
    batch.dstOffsets.set([0, 0, 0, 57]); // each opens to 24 bytes: 57 + 24 > 80
    refused(range, (d) => open4(d));
    batch.dstOffsets[3] = 56;
    assert.equal(open4(new Uint8Array(80)), 0); // all forged, all within bounds
    assert.deepEqual([...batch.results], [-1, -1, -1, -1]);
  });

  it('keeps separate cipher state per worker thread', async () => {
    const addon = fileURLToPath(new URL('../../../native/build/meshguard_tun.node', import.meta.url));
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const b = require(workerData.addon);
      const out = new Uint8Array(1016);
      let n = 0;
      for (let c = 0; c < 2000; c++) n = b.aeadSeal(workerData.key, c, new Uint8Array(1000), 0, 1000, out, 0, null);
      parentPort.postMessage({ n, out });`;
    const k = new Uint8Array(32).fill(9);
    const run = (): Promise<{ n: number; out: Uint8Array }> =>
      new Promise((resolve, reject) => {
        const w = new Worker(code, { eval: true, workerData: { addon, key: k } });
        w.once('message', resolve);
        w.once('error', reject);
      });
    const results = await Promise.all([run(), run(), run()]);
    // Interleave main-thread use too: each environment has its own contexts.
    const mine = seal(k, 1999, new Uint8Array(1000), null);
    for (const r of results) {
      assert.equal(r.n, 1016);
      assert.deepEqual(r.out, mine);
    }
  });
});

describe('aead.ts (WireGuard transport and handshake API)', () => {
  it('seal / sealInto / open / openInto agree with node:crypto and each other', () => {
    fc.assert(
      fc.property(key32, counter, body, ad, fc.nat(20), (key, c, plaintext, a, offset) => {
        const expected = reference(key, wgNonce(c), plaintext, a);
        assert.deepEqual(seal(key, c, plaintext, a), expected);
        const out = new Uint8Array(offset + expected.length);
        assert.equal(sealInto(key, c, plaintext, a, out, offset), expected.length);
        assert.deepEqual(out.subarray(offset), expected);
        assert.deepEqual(open(key, c, expected, a), plaintext);
        const back = new Uint8Array(offset + plaintext.length);
        assert.equal(openInto(key, c, expected, a, back, offset), plaintext.length);
        assert.deepEqual(back.subarray(offset), plaintext);
      }),
      { numRuns: 200 },
    );
  });

  it('open returns null for forgeries and short messages', () => {
    const key = new Uint8Array(32).fill(4);
    const sealed = seal(key, 9, new Uint8Array(33), null);
    sealed[sealed.length - 1]! ^= 1;
    assert.equal(open(key, 9, sealed, null), null);
    assert.equal(open(key, 9, new Uint8Array(15), null), null);
    assert.deepEqual(open(key, 9, seal(key, 9, new Uint8Array(0), null), null), new Uint8Array(0));
  });

  it('sealBatch / openBatch round-trip a reused descriptor set', () => {
    const key = new Uint8Array(32).fill(5);
    const batch = new AeadBatch(8);
    const slot = 1500;
    const wire = new Uint8Array(8 * slot);
    for (let round = 0; round < 3; round++) {
      const count = 3 + round;
      for (let i = 0; i < count; i++) {
        batch.counters[i] = round * 100 + i;
        batch.srcOffsets[i] = i * slot + 16; // room for a transport header before each packet
        batch.srcLengths[i] = 1420 - 16 * i;
        batch.dstOffsets[i] = i * slot + 16;
        wire.fill(i + round, i * slot + 16, i * slot + 16 + batch.srcLengths[i]!);
      }
      sealBatch(key, wire, wire, batch, count); // in place
      for (let i = 0; i < count; i++) {
        const len = batch.srcLengths[i]!;
        const sealed = wire.subarray(i * slot + 16, i * slot + 16 + len + TAG);
        assert.deepEqual(open(key, batch.counters[i]!, sealed, null), new Uint8Array(len).fill(i + round));
        batch.srcLengths[i] = len + TAG;
      }
      assert.equal(openBatch(key, wire, wire, batch, count), count);
      for (let i = 0; i < count; i++) {
        assert.equal(batch.results[i], batch.srcLengths[i]! - TAG);
        assert.ok(wire.subarray(i * slot + 16, i * slot + 16 + batch.results[i]!).every((x) => x === i + round));
      }
    }
  });
});
