import { randomBytes } from 'node:crypto';
import { xopen, xseal } from './aead.js';
import { COOKIE_REPLY_BYTES, MAC_BYTES, MESSAGE_COOKIE_REPLY } from './constants.js';
import { checkMac2, mac, type MacKeys } from './macs.js';
import { CookieReply, newMessage, writeU32LE } from './messages.js';

const SECRET_LIFETIME_MS = 120_000;

/**
 * The responder's side of WireGuard's DoS defence (whitepaper §5.4.7). Under load a handshake
 * message must carry MAC2 computed with a cookie bound to its source address; otherwise we
 * answer with an encrypted cookie and do no Diffie-Hellman work. The secret rotates every
 * two minutes, so cookies expire without any per-source state.
 */
export class CookieChecker {
  #secret: Uint8Array;
  #secretCreatedAt: number;
  readonly #ownKeys: MacKeys;
  readonly #random: (n: number) => Uint8Array;

  constructor(ownKeys: MacKeys, now: number, random: (n: number) => Uint8Array = (n) => randomBytes(n)) {
    this.#ownKeys = ownKeys;
    this.#random = random;
    this.#secret = random(32);
    this.#secretCreatedAt = now;
  }

  #cookieFor(source: Uint8Array, now: number): Uint8Array {
    if (now - this.#secretCreatedAt >= SECRET_LIFETIME_MS) {
      this.#secret = this.#random(32);
      this.#secretCreatedAt = now;
    }
    return mac(this.#secret, source);
  }

  /** `source` is the address ‖ port bytes of the datagram's sender. */
  checkMac2(message: Uint8Array, mac2Offset: number, source: Uint8Array, now: number): boolean {
    return checkMac2(message, mac2Offset, this.#cookieFor(source, now));
  }

  createReply(
    message: Uint8Array,
    mac1Offset: number,
    senderIndex: number,
    source: Uint8Array,
    now: number,
  ): Uint8Array {
    const reply = newMessage(MESSAGE_COOKIE_REPLY, COOKIE_REPLY_BYTES);
    writeU32LE(reply, CookieReply.receiverIndex, senderIndex);
    const nonce = this.#random(CookieReply.nonceBytes);
    reply.set(nonce, CookieReply.nonce);
    const mac1 = message.subarray(mac1Offset, mac1Offset + MAC_BYTES);
    reply.set(xseal(this.#ownKeys.cookie, nonce, this.#cookieFor(source, now), mac1), CookieReply.encryptedCookie);
    return reply;
  }
}

/** The initiator's side: remembers the last cookie a peer sent and the MAC1 it must answer. */
export class CookieJar {
  #cookie: Uint8Array | null = null;
  #receivedAt = 0;
  #lastMac1: Uint8Array | null = null;

  /** The cookie to MAC2 our next handshake message with, if still fresh. */
  current(now: number, refreshMs: number): Uint8Array | null {
    return this.#cookie !== null && now - this.#receivedAt < refreshMs ? this.#cookie : null;
  }

  rememberMac1(mac1: Uint8Array): void {
    this.#lastMac1 = mac1;
  }

  /** Accepts a cookie reply only if it answers our last message (its MAC1 is the AD). */
  consumeReply(reply: Uint8Array, peerKeys: MacKeys, now: number): boolean {
    if (reply.length !== COOKIE_REPLY_BYTES || this.#lastMac1 === null) return false;
    const nonce = reply.subarray(CookieReply.nonce, CookieReply.nonce + CookieReply.nonceBytes);
    const sealed = reply.subarray(
      CookieReply.encryptedCookie,
      CookieReply.encryptedCookie + CookieReply.encryptedCookieBytes,
    );
    const cookie = xopen(peerKeys.cookie, nonce, sealed, this.#lastMac1);
    if (cookie === null || cookie.length !== MAC_BYTES) return false;
    this.#cookie = cookie;
    this.#receivedAt = now;
    this.#lastMac1 = null;
    return true;
  }
}
