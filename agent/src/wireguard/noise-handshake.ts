import type { KeyObject } from 'node:crypto';
import { copyBytes } from '@meshguard/core';
import { open, seal } from './aead.js';
import { MESSAGE_INITIATION, MESSAGE_RESPONSE, TIMESTAMP_BYTES } from './constants.js';
import { kdf1, kdf2, kdf3 } from './hkdf.js';
import { macKeysFor, type MacKeys } from './macs.js';
import { Initiation, newMessage, readU32LE, Response, writeU32LE } from './messages.js';
import { initialChainingKey, mixHash, responderInitialHash } from './noise-constants.js';
import { importPrivateKey, importPublicKey, sharedSecret, type X25519PrivateKey } from './x25519.js';

/**
 * Noise_IKpsk2 as WireGuard uses it (whitepaper §5.4.2), as pure functions over bytes. The
 * peer state machine decides when to call them; nothing here keeps time or does I/O.
 */
export interface LocalStatic {
  readonly privateKey: X25519PrivateKey;
  readonly macKeys: MacKeys;
}

export function localStatic(privateKey: Uint8Array): LocalStatic {
  const key = importPrivateKey(privateKey);
  return { privateKey: key, macKeys: macKeysFor(key.publicKey) };
}

export interface RemoteStatic {
  readonly publicKey: Uint8Array;
  readonly publicKeyObject: KeyObject;
  readonly presharedKey: Uint8Array;
  /** DH(our static, their static), fixed for the pair: computed once per peer. Null if degenerate. */
  readonly staticStatic: Uint8Array | null;
  readonly macKeys: MacKeys;
}

export function remoteStatic(local: LocalStatic, publicKey: Uint8Array, presharedKey?: Uint8Array): RemoteStatic {
  const publicKeyObject = importPublicKey(publicKey);
  return {
    publicKey: Uint8Array.from(publicKey),
    publicKeyObject,
    presharedKey: presharedKey === undefined ? new Uint8Array(32) : Uint8Array.from(presharedKey),
    staticStatic: sharedSecret(local.privateKey, publicKeyObject),
    macKeys: macKeysFor(publicKey),
  };
}

export interface TransportKeys {
  readonly send: Uint8Array;
  readonly receive: Uint8Array;
}

/** What the initiator keeps between sending an initiation and receiving the response. */
export interface InitiatorState {
  readonly localIndex: number;
  readonly ephemeral: X25519PrivateKey;
  readonly hash: Uint8Array;
  readonly chainingKey: Uint8Array;
}

/** What the responder learned from a valid initiation. */
export interface ConsumedInitiation {
  readonly remote: RemoteStatic;
  readonly remoteIndex: number;
  readonly remoteEphemeral: Uint8Array;
  readonly timestamp: Uint8Array;
  readonly hash: Uint8Array;
  readonly chainingKey: Uint8Array;
}

const EMPTY = new Uint8Array(0);

/** Builds an initiation (MACs left zero for the caller, who knows the cookie state). */
export function createInitiation(
  local: LocalStatic,
  remote: RemoteStatic,
  localIndex: number,
  timestamp: Uint8Array,
  ephemeral: X25519PrivateKey,
): { readonly message: Uint8Array; readonly state: InitiatorState } | null {
  if (remote.staticStatic === null) return null;
  const msg = newMessage(MESSAGE_INITIATION, Initiation.bytes);
  writeU32LE(msg, Initiation.senderIndex, localIndex);
  let h = responderInitialHash(remote.publicKey);
  let ck = initialChainingKey();

  msg.set(ephemeral.publicKey, Initiation.ephemeral);
  [ck] = kdf1(ck, ephemeral.publicKey);
  h = mixHash(h, ephemeral.publicKey);

  const es = sharedSecret(ephemeral, remote.publicKeyObject);
  if (es === null) return null;
  let k: Uint8Array;
  [ck, k] = kdf2(ck, es);
  const encryptedStatic = seal(k, 0, local.privateKey.publicKey, h);
  msg.set(encryptedStatic, Initiation.encryptedStatic);
  h = mixHash(h, encryptedStatic);

  [ck, k] = kdf2(ck, remote.staticStatic);
  const encryptedTimestamp = seal(k, 0, timestamp, h);
  msg.set(encryptedTimestamp, Initiation.encryptedTimestamp);
  h = mixHash(h, encryptedTimestamp);
  k.fill(0);
  es.fill(0);
  return { message: msg, state: { localIndex, ephemeral, hash: h, chainingKey: ck } };
}

/**
 * Why an initiation was refused: `unknown-key` when it authenticates a static key that
 * `lookup` does not know, `decrypt-failed` for everything else (a field that does not decrypt,
 * a zero Diffie-Hellman result, a wrong length).
 */
export type InitiationFailure = 'unknown-key' | 'decrypt-failed';

/**
 * Authenticates an initiation (MAC1 already checked by the caller) and identifies the
 * initiator, or says why it cannot.
 */
export function consumeInitiation(
  local: LocalStatic,
  msg: Uint8Array,
  lookup: (staticPublicKey: Uint8Array) => RemoteStatic | undefined,
): ConsumedInitiation | InitiationFailure {
  if (msg.length !== Initiation.bytes) return 'decrypt-failed';
  let h = responderInitialHash(local.privateKey.publicKey);
  let ck = initialChainingKey();
  const remoteEphemeral = copyBytes(msg, Initiation.ephemeral, Initiation.ephemeral + 32);
  [ck] = kdf1(ck, remoteEphemeral);
  h = mixHash(h, remoteEphemeral);

  const es = sharedSecret(local.privateKey, remoteEphemeral);
  if (es === null) return 'decrypt-failed';
  let k: Uint8Array;
  [ck, k] = kdf2(ck, es);
  const encryptedStatic = msg.subarray(
    Initiation.encryptedStatic,
    Initiation.encryptedStatic + Initiation.encryptedStaticBytes,
  );
  const staticKey = open(k, 0, encryptedStatic, h);
  if (staticKey === null) return 'decrypt-failed';
  h = mixHash(h, encryptedStatic);
  const remote = lookup(staticKey);
  if (remote === undefined) return 'unknown-key';
  if (remote.staticStatic === null) return 'decrypt-failed';

  [ck, k] = kdf2(ck, remote.staticStatic);
  const encryptedTimestamp = msg.subarray(
    Initiation.encryptedTimestamp,
    Initiation.encryptedTimestamp + Initiation.encryptedTimestampBytes,
  );
  const timestamp = open(k, 0, encryptedTimestamp, h);
  if (timestamp?.length !== TIMESTAMP_BYTES) return 'decrypt-failed';
  h = mixHash(h, encryptedTimestamp);
  k.fill(0);
  return {
    remote,
    remoteIndex: readU32LE(msg, Initiation.senderIndex),
    remoteEphemeral,
    timestamp: Uint8Array.from(timestamp),
    hash: h,
    chainingKey: ck,
  };
}

/** The responder's half: builds the response and derives the session keys. */
export function createResponse(
  initiation: ConsumedInitiation,
  localIndex: number,
  ephemeral: X25519PrivateKey,
): { readonly message: Uint8Array; readonly keys: TransportKeys } | null {
  const msg = newMessage(MESSAGE_RESPONSE, Response.bytes);
  writeU32LE(msg, Response.senderIndex, localIndex);
  writeU32LE(msg, Response.receiverIndex, initiation.remoteIndex);
  let h = initiation.hash;
  let ck = initiation.chainingKey;

  msg.set(ephemeral.publicKey, Response.ephemeral);
  [ck] = kdf1(ck, ephemeral.publicKey);
  h = mixHash(h, ephemeral.publicKey);
  const ee = sharedSecret(ephemeral, initiation.remoteEphemeral);
  const se = sharedSecret(ephemeral, initiation.remote.publicKeyObject);
  if (ee === null || se === null) return null;
  [ck] = kdf1(ck, ee);
  [ck] = kdf1(ck, se);
  const [ck2, tau, k] = kdf3(ck, initiation.remote.presharedKey);
  h = mixHash(h, tau);
  const encryptedNothing = seal(k, 0, EMPTY, h);
  msg.set(encryptedNothing, Response.encryptedNothing);
  const [receive, send] = kdf2(ck2, EMPTY);
  for (const secret of [ee, se, tau, k, ck2]) secret.fill(0);
  return { message: msg, keys: { send, receive } };
}

/** The initiator's last step: authenticates the response and derives the session keys. */
export function consumeResponse(
  local: LocalStatic,
  remote: RemoteStatic,
  state: InitiatorState,
  msg: Uint8Array,
): TransportKeys | null {
  if (msg.length !== Response.bytes) return null;
  let h = state.hash;
  let ck = state.chainingKey;
  const remoteEphemeral = msg.subarray(Response.ephemeral, Response.ephemeral + 32);
  [ck] = kdf1(ck, remoteEphemeral);
  h = mixHash(h, remoteEphemeral);
  const ee = sharedSecret(state.ephemeral, remoteEphemeral);
  const se = sharedSecret(local.privateKey, remoteEphemeral);
  if (ee === null || se === null) return null;
  [ck] = kdf1(ck, ee);
  [ck] = kdf1(ck, se);
  const [ck2, tau, k] = kdf3(ck, remote.presharedKey);
  h = mixHash(h, tau);
  const ok = open(
    k,
    0,
    msg.subarray(Response.encryptedNothing, Response.encryptedNothing + Response.encryptedNothingBytes),
    h,
  );
  if (ok === null) return null;
  const [send, receive] = kdf2(ck2, EMPTY);
  for (const secret of [ee, se, tau, k, ck2]) secret.fill(0);
  return { send, receive };
}
