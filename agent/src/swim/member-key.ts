/**
 * The string a public key is filed under in the node's maps. Latin-1 (one character per
 * byte) rather than hex: half the characters to build and hash, and a node looks up a key
 * for every sender and every gossip entry it receives. Never shown to anyone; use hex for that.
 */
export function memberKey(publicKey: Uint8Array): string {
  return Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.byteLength).toString('latin1');
}
