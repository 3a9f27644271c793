/**
 * Anti-replay filter for transport-data counters (spec §11.2: 2048 counters, bitmap). The
 * receive path asks `wouldAccept` before decrypting, so forged packets cost no state, and calls
 * `accept` only once the AEAD tag has verified — marking an unauthenticated counter would let
 * an attacker burn counters the real peer has yet to send.
 *
 * Counters are plain JS numbers. Wire counters above Number.MAX_SAFE_INTEGER are refused before
 * they reach this class, so every counter here is an exact non-negative integer; anything else
 * is rejected rather than trusted.
 */
export const REPLAY_WINDOW_SIZE = 2048;

const WORD_BITS = 32;
// One word more than the window covers: when the highest counter sits at the start of its
// word, the oldest counter still in the window lies 64 words back, and that word must not
// share a slot with the newest one (the same redundant word the kernel's counter keeps).
const RING_WORDS = REPLAY_WINDOW_SIZE / WORD_BITS + 1;

export class ReplayWindow {
  // Bit (c mod 32) of ring[slot] records counter c. Slots are positions relative to the word of
  // the highest counter, not `word mod RING_WORDS`, so that neither sliding nor lookup needs a
  // division: a counter's slot is headSlot minus how many words it lies behind the head.
  readonly #ring = new Uint32Array(RING_WORDS);
  #headSlot = 0;
  // Highest counter accepted so far. Starting at 0 with an empty bitmap makes counter 0 acceptable
  // exactly once, as in wireguard-go, without a separate "nothing seen yet" state.
  #highest = 0;

  /** True if `counter` has not been seen and is not too old; does not record it. */
  wouldAccept(counter: number): boolean {
    if (!isCounter(counter)) return false;
    if (counter > this.#highest) return true;
    if (this.#highest - counter >= REPLAY_WINDOW_SIZE) return false;
    return (this.#ring[this.#slotBehindHead(counter)]! & bitOf(counter)) === 0;
  }

  /** Records `counter` if it is acceptable; false for replays and for counters that fell out of the window. */
  accept(counter: number): boolean {
    if (!isCounter(counter)) return false;
    let slot: number;
    if (counter > this.#highest) {
      this.#advanceTo(counter);
      slot = this.#headSlot;
    } else {
      if (this.#highest - counter >= REPLAY_WINDOW_SIZE) return false;
      slot = this.#slotBehindHead(counter);
    }
    const bit = bitOf(counter);
    const word = this.#ring[slot]!;
    if ((word & bit) !== 0) return false;
    this.#ring[slot] = word | bit;
    return true;
  }

  /** Forgets every counter, for a fresh keypair. */
  reset(): void {
    this.#ring.fill(0);
    this.#headSlot = 0;
    this.#highest = 0;
  }

  #advanceTo(counter: number): void {
    let words = wordOf(counter) - wordOf(this.#highest);
    if (words >= RING_WORDS) {
      // Everything in the old window is now too old; the head may restart at any slot.
      this.#ring.fill(0);
      this.#headSlot = 0;
    } else {
      let slot = this.#headSlot;
      while (words > 0) {
        slot = slot === RING_WORDS - 1 ? 0 : slot + 1;
        this.#ring[slot] = 0;
        words--;
      }
      this.#headSlot = slot;
    }
    this.#highest = counter;
  }

  // Only for counters within the window, which lie at most RING_WORDS - 1 words behind the head.
  #slotBehindHead(counter: number): number {
    const slot = this.#headSlot - (wordOf(this.#highest) - wordOf(counter));
    return slot < 0 ? slot + RING_WORDS : slot;
  }
}

function isCounter(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

// Division by a power of two is exact for safe integers, so floor gives the true word index
// even above 2^32, where bitwise operators would wrap.
function wordOf(counter: number): number {
  return Math.floor(counter / WORD_BITS);
}

// `&` sees the counter modulo 2^32, which keeps its low five bits intact. Bit 31 comes out as
// a negative int32; that is harmless because it is only ever combined with `&` and `|`.
function bitOf(counter: number): number {
  return 1 << (counter & (WORD_BITS - 1));
}
