import { ArgumentError, checkIpPrefix, parseIpPrefix, type IpFamily, type IpPrefix } from '@meshguard/core';

/**
 * Cryptokey routing table (spec §4, §11.2): IP prefixes → peer, longest prefix wins. Outbound
 * packets pick their peer by destination; inbound packets are dropped unless their inner
 * source maps back to the peer that sent them. Both happen per packet, so the lookups read the
 * address straight out of the packet buffer and allocate nothing.
 *
 * Semantics follow WireGuard's allowedips: host bits beyond the prefix length are cleared on
 * insert, and inserting a prefix that is already present moves it to the new owner.
 */

// Existing importers read prefixes back out of the table through this module.
export { formatIpPrefix } from '@meshguard/core';

// A prefix is held as four 32-bit words (IPv4 uses only the first, the rest stay 0) with its
// per-word masks precomputed, so testing whether an address falls under a node is four
// XOR/ANDs and no loop. Words are stored as int32; only equality under a mask matters.
class TrieNode<T> {
  child0: TrieNode<T> | null = null;
  child1: TrieNode<T> | null = null;
  // Path compression leaves nodes that only join two subtrees; those own no value.
  hasValue = false;
  value: T | undefined = undefined;
  readonly k0: number;
  readonly k1: number;
  readonly k2: number;
  readonly k3: number;
  readonly m0: number;
  readonly m1: number;
  readonly m2: number;
  readonly m3: number;

  constructor(
    w0: number,
    w1: number,
    w2: number,
    w3: number,
    readonly prefixLength: number,
  ) {
    this.m0 = wordMask(prefixLength);
    this.m1 = wordMask(prefixLength - 32);
    this.m2 = wordMask(prefixLength - 64);
    this.m3 = wordMask(prefixLength - 96);
    this.k0 = w0 & this.m0;
    this.k1 = w1 & this.m1;
    this.k2 = w2 & this.m2;
    this.k3 = w3 & this.m3;
  }

  covers(w0: number, w1: number, w2: number, w3: number): boolean {
    return (
      (((w0 ^ this.k0) & this.m0) |
        ((w1 ^ this.k1) & this.m1) |
        ((w2 ^ this.k2) & this.m2) |
        ((w3 ^ this.k3) & this.m3)) ===
      0
    );
  }

  childFor(bit: number): TrieNode<T> | null {
    return bit === 0 ? this.child0 : this.child1;
  }

  setChild(bit: number, child: TrieNode<T> | null): void {
    if (bit === 0) this.child0 = child;
    else this.child1 = child;
  }
}

/** The top `bits` bits of a 32-bit word set (bits ≤ 0 → none, ≥ 32 → all), as an int32. */
function wordMask(bits: number): number {
  if (bits <= 0) return 0;
  if (bits >= 32) return -1;
  return -1 << (32 - bits);
}

/** Bit `index` (0 = most significant) of the address in words w0..w3. */
function bitAt(index: number, w0: number, w1: number, w2: number, w3: number): number {
  const word = index < 32 ? w0 : index < 64 ? w1 : index < 96 ? w2 : w3;
  return (word >>> (31 - (index & 31))) & 1;
}

/** Length of the common leading bits of a node's key and an address, at most `limit`. */
function commonPrefixLength<T>(
  node: TrieNode<T>,
  w0: number,
  w1: number,
  w2: number,
  w3: number,
  limit: number,
): number {
  let common: number;
  if (node.k0 !== w0) common = Math.clz32(node.k0 ^ w0);
  else if (node.k1 !== w1) common = 32 + Math.clz32(node.k1 ^ w1);
  else if (node.k2 !== w2) common = 64 + Math.clz32(node.k2 ^ w2);
  else if (node.k3 !== w3) common = 96 + Math.clz32(node.k3 ^ w3);
  else return limit;
  return Math.min(common, limit);
}

/**
 * Path-compressed binary trie (the same shape as the kernel's allowedips): every node's prefix
 * extends its parent's, and a node exists only if it owns a value or joins two subtrees, so
 * depth is bounded by the number of prefixes rather than by 32 or 128.
 */
class PrefixTrie<T> {
  root: TrieNode<T> | null = null;

  constructor(readonly maxLength: 32 | 128) {}

  /** Deepest value-owning node covering the address, or null. */
  find(w0: number, w1: number, w2: number, w3: number): TrieNode<T> | null {
    let best: TrieNode<T> | null = null;
    let node = this.root;
    while (node !== null && node.covers(w0, w1, w2, w3)) {
      if (node.hasValue) best = node;
      if (node.prefixLength === this.maxLength) break;
      node = node.childFor(bitAt(node.prefixLength, w0, w1, w2, w3));
    }
    return best;
  }

  /** Returns true if the prefix is new, false if it only changed owner. */
  insert(raw0: number, raw1: number, raw2: number, raw3: number, prefixLength: number, value: T): boolean {
    const fresh = new TrieNode<T>(raw0, raw1, raw2, raw3, prefixLength);
    fresh.hasValue = true;
    fresh.value = value;
    // The masked key from here on, so host bits never steer the descent.
    const { k0: w0, k1: w1, k2: w2, k3: w3 } = fresh;

    let parent: TrieNode<T> | null = null;
    let node = this.root;
    while (node !== null && node.prefixLength <= prefixLength && node.covers(w0, w1, w2, w3)) {
      if (node.prefixLength === prefixLength) {
        const added = !node.hasValue;
        node.hasValue = true;
        node.value = value;
        return added;
      }
      parent = node;
      node = node.childFor(bitAt(node.prefixLength, w0, w1, w2, w3));
    }

    let replacement = fresh;
    if (node !== null) {
      // `node` is not on the new prefix's path: either it is longer and below the new prefix,
      // or the two diverge somewhere, and a joining node is needed at the divergence.
      const common = commonPrefixLength(node, w0, w1, w2, w3, Math.min(node.prefixLength, prefixLength));
      if (common === prefixLength) {
        fresh.setChild(bitAt(prefixLength, node.k0, node.k1, node.k2, node.k3), node);
      } else {
        replacement = new TrieNode<T>(w0, w1, w2, w3, common);
        replacement.setChild(bitAt(common, node.k0, node.k1, node.k2, node.k3), node);
        replacement.setChild(bitAt(common, w0, w1, w2, w3), fresh);
      }
    }
    if (parent === null) this.root = replacement;
    else parent.setChild(bitAt(parent.prefixLength, w0, w1, w2, w3), replacement);
    return true;
  }

  /** Drops `value` from every node, pruning nodes left without purpose; returns how many it owned. */
  removeValue(value: T): number {
    let removed = 0;
    const prune = (node: TrieNode<T> | null): TrieNode<T> | null => {
      if (node === null) return null;
      node.child0 = prune(node.child0);
      node.child1 = prune(node.child1);
      if (node.hasValue && node.value === value) {
        node.hasValue = false;
        node.value = undefined;
        removed++;
      }
      if (node.hasValue || (node.child0 !== null && node.child1 !== null)) return node;
      return node.child0 ?? node.child1;
    };
    this.root = prune(this.root);
    return removed;
  }

  /** Prefixes owned by `value`, in address order with shorter prefixes first. */
  collect(value: T, family: IpFamily, out: IpPrefix[]): void {
    const visit = (node: TrieNode<T> | null): void => {
      if (node === null) return;
      if (node.hasValue && node.value === value) {
        out.push({ family, address: keyBytes(node, family), prefixLength: node.prefixLength });
      }
      visit(node.child0);
      visit(node.child1);
    };
    visit(this.root);
  }
}

function keyBytes<T>(node: TrieNode<T>, family: IpFamily): Uint8Array {
  const bytes = new Uint8Array(family === 4 ? 4 : 16);
  const view = new DataView(bytes.buffer);
  view.setInt32(0, node.k0);
  if (family === 6) {
    view.setInt32(4, node.k1);
    view.setInt32(8, node.k2);
    view.setInt32(12, node.k3);
  }
  return bytes;
}

function readWord(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
}

function checkOffset(packet: Uint8Array, offset: number, length: number): void {
  // `>>> 0` round-trips only non-negative integers below 2^32: one cheap test for a sane offset.
  if (offset >>> 0 !== offset || offset + length > packet.length) {
    throw new ArgumentError(`no ${length}-byte address at offset ${offset} of a ${packet.length}-byte packet`);
  }
}

export class AllowedIps<T> {
  readonly #v4 = new PrefixTrie<T>(32);
  readonly #v6 = new PrefixTrie<T>(128);
  #size = 0;

  /** Number of prefixes in the table. */
  get size(): number {
    return this.#size;
  }

  /** Routes `prefix` to `value`, taking it over from any previous owner of the identical prefix. */
  insert(prefix: string | IpPrefix, value: T): void {
    const { family, address, prefixLength } =
      typeof prefix === 'string' ? parseIpPrefix(prefix) : checkIpPrefix(prefix);
    const added =
      family === 4
        ? this.#v4.insert(readWord(address, 0), 0, 0, 0, prefixLength, value)
        : this.#v6.insert(
            readWord(address, 0),
            readWord(address, 4),
            readWord(address, 8),
            readWord(address, 12),
            prefixLength,
            value,
          );
    if (added) this.#size++;
  }

  /** Removes every prefix routed to `value` (a peer leaving); returns how many there were. */
  removeValue(value: T): number {
    const removed = this.#v4.removeValue(value) + this.#v6.removeValue(value);
    this.#size -= removed;
    return removed;
  }

  /** Owner of the longest prefix containing a 4- or 16-byte address. */
  lookup(address: Uint8Array): T | undefined {
    if (address.length === 4) return this.lookupIPv4At(address, 0);
    if (address.length === 16) return this.lookupIPv6At(address, 0);
    throw new ArgumentError(`an IP address is 4 or 16 bytes, got ${address.length}`);
  }

  /** Owner for the IPv4 address at `packet[offset]`, e.g. offset 16 (destination) or 12 (source) of an IPv4 header. */
  lookupIPv4At(packet: Uint8Array, offset: number): T | undefined {
    checkOffset(packet, offset, 4);
    return this.#v4.find(readWord(packet, offset), 0, 0, 0)?.value;
  }

  /** Owner for the IPv6 address at `packet[offset]`, e.g. offset 24 (destination) or 8 (source) of an IPv6 header. */
  lookupIPv6At(packet: Uint8Array, offset: number): T | undefined {
    checkOffset(packet, offset, 16);
    return this.#v6.find(
      readWord(packet, offset),
      readWord(packet, offset + 4),
      readWord(packet, offset + 8),
      readWord(packet, offset + 12),
    )?.value;
  }

  /** The prefixes routed to `value` (host bits cleared), IPv4 first, for `wg show`-style listings. */
  prefixesOf(value: T): IpPrefix[] {
    const out: IpPrefix[] = [];
    this.#v4.collect(value, 4, out);
    this.#v6.collect(value, 6, out);
    return out;
  }

  clear(): void {
    this.#v4.root = null;
    this.#v6.root = null;
    this.#size = 0;
  }
}
