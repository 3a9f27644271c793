import { bytesEqual } from '@meshguard/core';
import type { Member } from './member.js';
import type { SwimEvent } from './swim-events.js';

/**
 * Reduces membership to WireGuard intent: a peer should exist while its member is alive or
 * suspected (a suspicion is not yet a verdict, and tearing the tunnel down would make it one)
 * and has a bound key. Remembers what it asked for, so every change is emitted exactly once.
 */
export class WireGuardPeers {
  readonly #installed = new Map<string, Uint8Array>();
  readonly #emit: (e: SwimEvent) => void;

  constructor(emit: (e: SwimEvent) => void) {
    this.#emit = emit;
  }

  get size(): number {
    return this.#installed.size;
  }

  sync(m: Member): void {
    const wanted = (m.state === 'alive' || m.state === 'suspect') && m.wgPublicKey !== null ? m.wgPublicKey : null;
    const current = this.#installed.get(m.key) ?? null;
    if (wanted === null) {
      if (current !== null) this.forget(m.key, m.publicKey);
      return;
    }
    if (current === null) {
      this.#installed.set(m.key, wanted);
      this.#emit({
        type: 'wg-peer-add',
        publicKey: copy(m.publicKey),
        wgPublicKey: copy(wanted),
        endpoint: m.endpoint,
      });
    } else if (!bytesEqual(current, wanted)) {
      this.#installed.set(m.key, wanted);
      this.#emit({
        type: 'wg-peer-replace',
        publicKey: copy(m.publicKey),
        wgPublicKey: copy(wanted),
        previous: copy(current),
        endpoint: m.endpoint,
      });
    }
  }

  forget(key: string, publicKey: Uint8Array): void {
    const current = this.#installed.get(key);
    if (current === undefined) return;
    this.#installed.delete(key);
    this.#emit({ type: 'wg-peer-remove', publicKey: copy(publicKey), wgPublicKey: copy(current) });
  }
}

/** Events carry copies: a listener that writes into a key must not reach our state. */
function copy(key: Uint8Array): Uint8Array {
  return Uint8Array.from(key);
}
