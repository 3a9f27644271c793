import { ReplayWindow } from './replay-window.js';
import type { TransportKeys } from './noise-handshake.js';

/** One session's transport keys and counters (whitepaper §5.4.6). */
export class Keypair {
  readonly sendKey: Buffer;
  readonly receiveKey: Buffer;
  readonly localIndex: number;
  readonly remoteIndex: number;
  /** Monotonic ms. */
  readonly createdAt: number;
  /** Only the initiator's side of a session triggers time- and count-based rekeys. */
  readonly isInitiator: boolean;
  sendCounter = 0;
  readonly replay = new ReplayWindow();

  constructor(keys: TransportKeys, localIndex: number, remoteIndex: number, createdAt: number, isInitiator: boolean) {
    // Buffers: node:crypto takes them without a copy on every packet.
    this.sendKey = Buffer.from(keys.send);
    this.receiveKey = Buffer.from(keys.receive);
    this.localIndex = localIndex;
    this.remoteIndex = remoteIndex;
    this.createdAt = createdAt;
    this.isInitiator = isInitiator;
  }

  zero(): void {
    this.sendKey.fill(0);
    this.receiveKey.fill(0);
  }
}

/**
 * previous / current / next, as in wireguard-go: a responder's fresh session waits in `next`
 * until the initiator's first packet proves it has the keys too, so neither side ever sends
 * with keys the other cannot yet use.
 */
export class KeypairSlots {
  previous: Keypair | null = null;
  current: Keypair | null = null;
  next: Keypair | null = null;

  /** Installs a new session; returns the keypairs that were retired (to unindex and zero). */
  install(keypair: Keypair): Keypair[] {
    const retired: Keypair[] = [];
    if (keypair.isInitiator) {
      if (this.next !== null) {
        retired.push(...(this.previous === null ? [] : [this.previous]));
        if (this.current !== null) retired.push(this.current);
        this.previous = this.next;
        this.next = null;
      } else {
        if (this.previous !== null) retired.push(this.previous);
        this.previous = this.current;
      }
      this.current = keypair;
    } else {
      if (this.next !== null) retired.push(this.next);
      if (this.previous !== null) retired.push(this.previous);
      this.previous = null;
      this.next = keypair;
    }
    return retired;
  }

  /** A packet arrived on `next`: it becomes current. Returns the retired keypair, if any. */
  confirmNext(keypair: Keypair): { readonly rotated: boolean; readonly retired: Keypair | null } {
    if (this.next !== keypair) return { rotated: false, retired: null };
    const retired = this.previous;
    this.previous = this.current;
    this.current = keypair;
    this.next = null;
    return { rotated: true, retired };
  }

  all(): Keypair[] {
    return [this.previous, this.current, this.next].filter((k): k is Keypair => k !== null);
  }

  clear(): Keypair[] {
    const all = this.all();
    this.previous = this.current = this.next = null;
    return all;
  }
}
