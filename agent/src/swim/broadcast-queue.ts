import { encodeGossipEntryInto, GOSSIP_ENTRY_BYTES, type GossipEntry, type GossipEvent } from './gossip-entry-codec.js';

/**
 * The share of a rumour's budget sent whatever we hear back. Suppressing from the first send
 * lets a rumour nearly everyone knows die just before reaching the last few, and pairs whose
 * two rumours both die stay unknown; a quarter keeps that residue small while the rest of the
 * budget, mostly redundant by then, is saved — and the pull that ends a join (see SwimNode's
 * #requestState) mends what residue there is.
 */
const ALWAYS_SENT = 0.25;

/** What `enqueue` hands back, so the caller can refer to its rumour without a key lookup. */
export interface RumourHandle {
  readonly event: GossipEvent;
  readonly lamport: bigint;
  /** False once the rumour was sent its last time, replaced or dropped. */
  readonly queued: boolean;
}

/** A rumour waiting to be piggybacked, encoded once however often it is sent. */
interface Rumour extends RumourHandle {
  queued: boolean;
  /** The subject's member key: one rumour per subject, the newest replaces the older. */
  readonly key: string;
  readonly event: GossipEvent;
  readonly lamport: bigint;
  /** Where its 115 encoded bytes sit in the queue's slab. */
  readonly slot: number;
  transmits: number;
  prev: Rumour | null;
  next: Rumour | null;
}

/** Rumours sent equally often, in the order queued; a linked list so removal anywhere is O(1). */
class Bucket {
  head: Rumour | null = null;
  tail: Rumour | null = null;
  size = 0;

  append(r: Rumour): void {
    r.prev = this.tail;
    r.next = null;
    if (this.tail === null) this.head = r;
    else this.tail.next = r;
    this.tail = r;
    this.size++;
  }

  unlink(r: Rumour): void {
    if (r.prev === null) this.head = r.next;
    else r.prev.next = r.next;
    if (r.next === null) this.tail = r.prev;
    else r.next.prev = r.prev;
    r.prev = null;
    r.next = null;
    this.size--;
  }
}

/**
 * memberlist's TransmitLimitedQueue: each rumour is sent at most `maxTransmits` times (the
 * caller passes λ·⌈log10(n+1)⌉, enough for an epidemic to reach every member with high
 * probability), least-sent first so fresh news overtakes old — and, among rumours sent equally
 * often, newest first, as memberlist does: in a mass join every member holds hundreds of unsent
 * rumours, and oldest-first kept the news of the last joiners queued behind what everyone knew
 * until the traffic that could carry it was over. Bounded: when full, the rumour
 * that has already been sent most is dropped, since it has had the best chance to spread.
 */
export class BroadcastQueue {
  readonly capacity: number;
  readonly #byKey = new Map<string, Rumour>();
  /** Rumours by transmit count. */
  readonly #buckets: Bucket[] = [];
  /**
   * Encoded entries live in one growing buffer rather than one small array each: a mesh
   * simulation holds a million queued rumours at the peak of a mass join, and a typed array
   * per rumour costs more in object overhead than the 115 bytes it holds.
   */
  #slab = new Uint8Array(GOSSIP_ENTRY_BYTES * 16);
  #slots = 0;
  readonly #free: number[] = [];

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get size(): number {
    return this.#byKey.size;
  }

  has(key: string): boolean {
    return this.#byKey.has(key);
  }

  /** The queued news about `key`, if any. */
  peek(key: string): { readonly event: GossipEvent; readonly lamport: bigint } | undefined {
    return this.#byKey.get(key);
  }

  enqueue(key: string, entry: GossipEntry): RumourHandle {
    this.remove(key);
    if (this.#byKey.size >= this.capacity) this.#dropMostSent();
    const slot = this.#allocate();
    this.#slab.fill(0, slot * GOSSIP_ENTRY_BYTES, (slot + 1) * GOSSIP_ENTRY_BYTES);
    encodeGossipEntryInto(entry, this.#slab, slot * GOSSIP_ENTRY_BYTES);
    const rumour: Rumour = {
      key,
      event: entry.event,
      lamport: entry.lamport,
      queued: true,
      slot,
      transmits: 0,
      prev: null,
      next: null,
    };
    this.#byKey.set(key, rumour);
    this.#bucket(0).append(rumour);
    return rumour;
  }

  remove(key: string): void {
    const old = this.#byKey.get(key);
    if (old === undefined) return;
    this.#byKey.delete(key);
    this.#buckets[old.transmits]!.unlink(old);
    this.#free.push(old.slot);
    old.queued = false;
  }

  /**
   * The encoded entries of up to `limit` rumours for one message, counting a transmission
   * for each. `skip` leaves out rumours the message already carries in another form (e.g. a
   * targeted entry). The returned bytes are views into the queue: copy them before the
   * queue changes again.
   */
  take(limit: number, maxTransmits: number, skip?: (key: string) => boolean): Uint8Array[] {
    const picked: Rumour[] = [];
    if (limit <= 0 || this.#byKey.size === 0) return [];
    // Rumours already past a limit that shrank with the mesh are dead weight.
    for (let t = maxTransmits; t < this.#buckets.length; t++) {
      const bucket = this.#buckets[t]!;
      for (let r = bucket.head; r !== null; r = bucket.head) this.remove(r.key);
    }
    for (let t = 0; t < this.#buckets.length && t < maxTransmits && picked.length < limit; t++) {
      const bucket = this.#buckets[t]!;
      for (let r = bucket.tail; r !== null && picked.length < limit; r = r.prev) {
        if (skip?.(r.key) !== true) picked.push(r);
      }
    }
    const out: Uint8Array[] = [];
    for (const r of picked) {
      out.push(this.#slab.subarray(r.slot * GOSSIP_ENTRY_BYTES, (r.slot + 1) * GOSSIP_ENTRY_BYTES));
      this.#count(r, maxTransmits);
    }
    return out;
  }

  /**
   * Counts a transmission we did not make: we just received this very rumour from someone
   * else, so it is already spreading and our remaining copies are worth less (Demers et al.'s
   * counter-based rumour mongering) — past the share of the budget that is always sent.
   * `event` and `lamport` check it is the same news, not an older one.
   */
  heardAgain(handle: RumourHandle, maxTransmits: number, event: GossipEvent, lamport: bigint): void {
    const r = handle as Rumour;
    if (!r.queued || r.transmits < maxTransmits * ALWAYS_SENT || r.event !== event || r.lamport !== lamport) return;
    this.#count(r, maxTransmits);
  }

  clear(): void {
    for (const r of this.#byKey.values()) r.queued = false;
    this.#byKey.clear();
    this.#buckets.length = 0;
    this.#free.length = 0;
    this.#slots = 0;
  }

  /**
   * A slot in the slab, reusing freed ones. Growing copies the slab, so views handed out
   * by `take` are only valid until the next `enqueue`.
   */
  #allocate(): number {
    const reused = this.#free.pop();
    if (reused !== undefined) return reused;
    const slot = this.#slots++;
    if ((slot + 1) * GOSSIP_ENTRY_BYTES > this.#slab.length) {
      const grown = new Uint8Array(this.#slab.length * 2);
      grown.set(this.#slab);
      this.#slab = grown;
    }
    return slot;
  }

  #count(r: Rumour, maxTransmits: number): void {
    this.#buckets[r.transmits]!.unlink(r);
    r.transmits++;
    if (r.transmits >= maxTransmits) {
      this.#byKey.delete(r.key);
      this.#free.push(r.slot);
      r.queued = false;
    } else {
      this.#bucket(r.transmits).append(r);
    }
  }

  #bucket(transmits: number): Bucket {
    while (this.#buckets.length <= transmits) this.#buckets.push(new Bucket());
    return this.#buckets[transmits]!;
  }

  #dropMostSent(): void {
    for (let t = this.#buckets.length - 1; t >= 0; t--) {
      const oldest = this.#buckets[t]!.head;
      if (oldest === null) continue;
      this.remove(oldest.key);
      return;
    }
  }
}

/** memberlist's retransmit limit: mult · ⌈log10(n + 1)⌉. */
export function retransmitLimit(mult: number, members: number): number {
  return mult * Math.max(1, Math.ceil(Math.log10(members + 1)));
}
