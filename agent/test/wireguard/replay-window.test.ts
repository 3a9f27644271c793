import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { REPLAY_WINDOW_SIZE, ReplayWindow } from '../../src/wireguard/replay-window.js';

/** The obvious definition: remember everything, accept new maxima and unseen counters less than a window behind. */
class NaiveWindow {
  readonly #seen = new Set<number>();
  #highest = -1;

  wouldAccept(counter: number): boolean {
    if (counter > this.#highest) return true;
    return this.#highest - counter < REPLAY_WINDOW_SIZE && !this.#seen.has(counter);
  }

  accept(counter: number): boolean {
    if (!this.wouldAccept(counter)) return false;
    this.#seen.add(counter);
    this.#highest = Math.max(this.#highest, counter);
    return true;
  }
}

test('the window is exactly 2048 counters', () => {
  assert.equal(REPLAY_WINDOW_SIZE, 2048);
});

test('counter 0 is accepted once as the first packet', () => {
  const w = new ReplayWindow();
  assert.equal(w.wouldAccept(0), true);
  assert.equal(w.accept(0), true);
  assert.equal(w.wouldAccept(0), false);
  assert.equal(w.accept(0), false);
  assert.equal(w.accept(1), true);
});

test('a first packet above 0 leaves the counters below it acceptable', () => {
  const w = new ReplayWindow();
  assert.equal(w.accept(100), true);
  assert.equal(w.accept(0), true);
  assert.equal(w.accept(99), true);
  assert.equal(w.accept(100), false);
});

test('duplicates are rejected, in order and out of order', () => {
  const w = new ReplayWindow();
  for (const c of [5, 3, 4, 10, 7]) assert.equal(w.accept(c), true, `first ${c}`);
  for (const c of [5, 3, 4, 10, 7]) assert.equal(w.accept(c), false, `replay ${c}`);
  for (const c of [0, 1, 2, 6, 8, 9, 11]) assert.equal(w.accept(c), true, `gap ${c}`);
});

test('exactly 2047 below the highest is inside the window, 2048 below is outside', () => {
  const w = new ReplayWindow();
  const top = 10_000;
  assert.equal(w.accept(top), true);
  assert.equal(w.wouldAccept(top - 2047), true);
  assert.equal(w.accept(top - 2047), true);
  assert.equal(w.accept(top - 2047), false);
  assert.equal(w.wouldAccept(top - 2048), false);
  assert.equal(w.accept(top - 2048), false);
  assert.equal(w.accept(top - 5000), false);
});

test('window edges hold at every alignment of the highest counter within its word', () => {
  for (let top = 4096; top < 4096 + 64; top++) {
    const w = new ReplayWindow();
    for (let c = top - 2047; c <= top; c++) assert.equal(w.accept(c), true, `top ${top}, ${c}`);
    for (let c = top - 2050; c <= top; c++) assert.equal(w.accept(c), false, `top ${top}, replay ${c}`);
  }
});

test('an out-of-order counter marked before a slide stays marked after it', () => {
  const w = new ReplayWindow();
  assert.equal(w.accept(3000), true);
  assert.equal(w.accept(1000), true); // 2000 behind
  assert.equal(w.accept(3040), true); // still 2040 behind: inside
  assert.equal(w.accept(1000), false);
  assert.equal(w.accept(3048), true); // now exactly 2048 behind: outside
  assert.equal(w.accept(1000), false);
  assert.equal(w.accept(1001), true); // 2047 behind, never seen
});

test('a jump of exactly the window size leaves only the new counter marked', () => {
  const w = new ReplayWindow();
  for (let c = 0; c < 100; c++) w.accept(c);
  assert.equal(w.accept(99 + REPLAY_WINDOW_SIZE), true);
  assert.equal(w.accept(99), false, 'now exactly a window behind');
  for (let c = 100; c < 99 + REPLAY_WINDOW_SIZE; c++) assert.equal(w.accept(c), true, `${c}`);
});

test('large jumps clear stale bits, including ones that would alias ring slots', () => {
  const w = new ReplayWindow();
  for (let c = 0; c < REPLAY_WINDOW_SIZE; c++) assert.equal(w.accept(c), true);
  // Every jump size from one word to twice the ring, so aliasing slots cannot hide.
  let top = REPLAY_WINDOW_SIZE - 1;
  for (let jump = 32; jump <= 2 * (REPLAY_WINDOW_SIZE + 32); jump += 31) {
    top += jump;
    assert.equal(w.accept(top), true, `jump ${jump}`);
    for (let back = 1; back < Math.min(jump, REPLAY_WINDOW_SIZE); back += 7) {
      assert.equal(w.wouldAccept(top - back), true, `jump ${jump}, ${back} back`);
    }
    for (let back = jump; back < REPLAY_WINDOW_SIZE; back += 5) {
      assert.equal(w.wouldAccept(top - back), false, `jump ${jump}, ${back} back, seen before the jump`);
    }
    // Fill the window so the next jump starts from a fully marked bitmap.
    for (let c = top - REPLAY_WINDOW_SIZE + 1; c < top; c++) w.accept(c);
  }
});

test('counters beyond 2^32 and up to MAX_SAFE_INTEGER work', () => {
  const w = new ReplayWindow();
  const big = 2 ** 32 + 5;
  assert.equal(w.accept(big), true);
  assert.equal(w.accept(big - 5), true);
  assert.equal(w.accept(big - 5), false);
  assert.equal(w.accept(big - 2048), false);
  assert.equal(w.accept(Number.MAX_SAFE_INTEGER), true);
  assert.equal(w.accept(Number.MAX_SAFE_INTEGER), false);
  assert.equal(w.accept(Number.MAX_SAFE_INTEGER - 2047), true);
  assert.equal(w.accept(Number.MAX_SAFE_INTEGER - 2048), false);
});

test('values that are not counters are rejected without touching state', () => {
  const w = new ReplayWindow();
  for (const bad of [-1, 0.5, NaN, Infinity, Number.MAX_SAFE_INTEGER + 1, 2 ** 64]) {
    assert.equal(w.wouldAccept(bad), false, String(bad));
    assert.equal(w.accept(bad), false, String(bad));
  }
  assert.equal(w.accept(0), true);
});

test('wouldAccept does not mark; accept after it does', () => {
  const w = new ReplayWindow();
  w.accept(50);
  assert.equal(w.wouldAccept(60), true);
  assert.equal(w.wouldAccept(60), true);
  assert.equal(w.wouldAccept(40), true);
  assert.equal(w.accept(60), true);
  assert.equal(w.wouldAccept(60), false);
});

test('reset forgets everything', () => {
  const w = new ReplayWindow();
  for (let c = 0; c < 5000; c += 3) w.accept(c);
  w.reset();
  assert.equal(w.accept(0), true);
  assert.equal(w.accept(3), true);
  assert.equal(w.accept(4998), true);
});

// Counters are drawn relative to the model's highest so sequences keep landing on the window's
// edges, inside it, on replays, and on jumps small and huge.
const arbStep = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: -2100, max: 40 }).map((d) => ({ relative: d })) },
  { weight: 2, arbitrary: fc.constantFrom(-2049, -2048, -2047, -1, 0, 1, 31, 32, 33, 2047, 2048, 2049, 2080) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 10_000 }).map((d) => ({ relative: d })) },
  { weight: 1, arbitrary: fc.nat({ max: 6000 }).map((c) => ({ absolute: c })) },
  { weight: 1, arbitrary: fc.constant({ absolute: 2 ** 40 }) },
);

test('property: agrees with a Set-based model on random sequences', () => {
  fc.assert(
    fc.property(fc.array(arbStep, { maxLength: 400 }), fc.array(fc.boolean(), { maxLength: 400 }), (steps, peeks) => {
      const real = new ReplayWindow();
      const model = new NaiveWindow();
      let highest = 0;
      steps.forEach((step, i) => {
        const counter =
          typeof step === 'number' ? highest + step : 'relative' in step ? highest + step.relative : step.absolute;
        if (counter < 0) return;
        assert.equal(real.wouldAccept(counter), model.wouldAccept(counter), `wouldAccept(${counter})`);
        if (peeks[i] === true) return; // checked but never authenticated: must leave no mark
        const accepted = model.accept(counter);
        assert.equal(real.accept(counter), accepted, `accept(${counter})`);
        if (accepted) highest = Math.max(highest, counter);
      });
    }),
    { numRuns: 500 },
  );
});
