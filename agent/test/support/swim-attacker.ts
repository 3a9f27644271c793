/**
 * A hostile host for the end-to-end tests, run inside a namespace on the mesh's LAN:
 *
 *   node swim-attacker.js forge <target ip> <impersonated key b64> <victim key b64> <victim ip> <org key b64>
 *   node swim-attacker.js flood <target ip> <count>
 *   node swim-attacker.js nat <rendezvous ip> <A key b64> <B key b64> <A's public ip> <B's public ip> <own ip>
 *
 * `forge` sends what someone who knows the mesh's public keys but holds none of its private
 * keys can send: Pings claiming to come from an admitted member that say a live member is
 * dead or has left, and org messages naming the trusted org but carrying a bad signature, or
 * validly signed by an org nobody trusts (a revocation of the victim, a vouch for a stranger,
 * an alias). `flood` sends Pings from fresh random keys, each with eight random gossip entries
 * and a junk certificate. `nat` attacks NAT traversal: hole-punch requests to the rendezvous
 * claiming to be A and naming the attacker's address, MGHP probes with guessed tokens at both
 * NATed nodes, and relay frames claiming to come from A. It prints how many datagrams it sent.
 */
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import {
  decodePublicKeyText,
  encodeOrgMessage,
  generateKeyPair,
  RevocationReason,
  signOrgAlias,
  signOrgRevoke,
  signOrgVouch,
  type OrgMessage,
} from '@meshguard/core';
import type { GossipEntry, GossipEvent } from '../../src/swim/gossip-entry-codec.js';
import { encodeHolepunchProbe, encodeHolepunchRequest } from '../../src/nat/holepunch-codec.js';
import { encodeRelayFrame } from '../../src/nat/relay-codec.js';
import { encodeSwimMessage } from '../../src/swim/swim-codec.js';

const PORT = 51821;

function ping(sender: Uint8Array, gossip: GossipEntry[], certificate: Uint8Array | null): Uint8Array {
  return encodeSwimMessage({
    kind: 'ping',
    senderPublicKey: sender,
    seq: BigInt(randomBytes(4).readUInt32LE()),
    incarnation: 1n,
    gossip,
    certificate,
  });
}

function entry(subject: Uint8Array, event: GossipEvent, lamport: bigint, address: string): GossipEntry {
  return {
    subjectPublicKey: subject,
    event,
    lamport,
    endpoint: { family: 4, address, port: PORT },
    wgPublicKey: null,
    publicEndpoint: null,
    natType: 'unknown',
  };
}

/** The message as the trusted org would sign it, with the signature's first byte flipped. */
function tampered(m: OrgMessage, orgKey: Uint8Array): Uint8Array {
  const bytes = encodeOrgMessage({ ...m, orgPublicKey: orgKey });
  bytes[bytes.length - 64]! ^= 0x01;
  return bytes;
}

function forgeries(args: readonly string[]): Uint8Array[] {
  const [impersonatedText, victimText, victimIp, orgText] = args;
  if (orgText === undefined || victimIp === undefined || victimText === undefined || impersonatedText === undefined)
    throw new Error('usage: forge <target ip> <impersonated key> <victim key> <victim ip> <org key>');
  const impersonated = decodePublicKeyText(impersonatedText);
  const victim = decodePublicKeyText(victimText);
  const org = decodePublicKeyText(orgText);
  const rogueOrg = generateKeyPair();
  const stranger = generateKeyPair().publicKey;
  const out: Uint8Array[] = [];
  // Third-party liveness claims at every plausible incarnation.
  for (const lamport of [1n, 2n, 3n, 5n, 8n, 13n, 40n]) {
    for (const event of ['dead', 'leave', 'suspect'] as const) {
      out.push(ping(impersonated, [entry(victim, event, lamport, victimIp)], null));
    }
  }
  const revoke = signOrgRevoke(rogueOrg, victim, RevocationReason.keyCompromised, 1n);
  const vouch = signOrgVouch(rogueOrg, stranger, 1n);
  const alias = signOrgAlias(rogueOrg, 'hijacked', 1n);
  for (const m of [revoke, vouch, alias]) {
    out.push(encodeOrgMessage(m)); // valid signature, untrusted org
    out.push(tampered(m, org)); // the trusted org's name, a bad signature
  }
  // The stranger "vouched" above tries to join.
  out.push(ping(stranger, [], null));
  return out;
}

function flood(count: number): Generator<Uint8Array> {
  return (function* () {
    for (let i = 0; i < count; i++) {
      const gossip: GossipEntry[] = [];
      for (let j = 0; j < 8; j++) {
        gossip.push(entry(randomBytes(32), j % 2 === 0 ? 'join' : 'alive', BigInt(j + 1), `10.${j}.${i & 255}.1`));
      }
      yield ping(randomBytes(32), gossip, randomBytes(314));
    }
  })();
}

function natAttack(args: readonly string[]): Array<{ bytes: Uint8Array; to: string }> {
  const [aText, bText, aPublic, bPublic, ownAddress] = args;
  if (
    aText === undefined ||
    bText === undefined ||
    aPublic === undefined ||
    bPublic === undefined ||
    ownAddress === undefined
  )
    throw new Error('usage: nat <rendezvous ip> <A key> <B key> <A public ip> <B public ip> <own ip>');
  const a = decodePublicKeyText(aText);
  const b = decodePublicKeyText(bText);
  const out: Array<{ bytes: Uint8Array; to: string }> = [];
  const request = encodeHolepunchRequest({
    senderPublicKey: a,
    targetPublicKey: b,
    publicEndpoint: { family: 4, address: ownAddress, port: PORT },
    token: randomBytes(16),
  });
  const wireguard = Uint8Array.of(4, 0, 0, 0, ...randomBytes(60));
  for (let i = 0; i < 20; i++) {
    out.push({ bytes: request, to: 'rendezvous' });
    out.push({
      bytes: encodeRelayFrame({ senderPublicKey: a, targetPublicKey: b, payload: wireguard }),
      to: 'rendezvous',
    });
    out.push({ bytes: encodeHolepunchProbe(randomBytes(16)), to: aPublic });
    out.push({ bytes: encodeHolepunchProbe(randomBytes(16)), to: bPublic });
  }
  return out;
}

async function main(): Promise<void> {
  const [mode, target, ...rest] = process.argv.slice(2);
  if (target === undefined) throw new Error('usage: swim-attacker.js forge|flood <target ip> …');
  const datagrams: Iterable<{ bytes: Uint8Array; to: string }> | null =
    mode === 'forge'
      ? forgeries(rest).map((bytes) => ({ bytes, to: target }))
      : mode === 'flood'
        ? (function* () {
            for (const bytes of flood(Number(rest[0]))) yield { bytes, to: target };
          })()
        : mode === 'nat'
          ? natAttack(rest).map((d) => ({ bytes: d.bytes, to: d.to === 'rendezvous' ? target : d.to }))
          : null;
  if (datagrams === null) throw new Error(`unknown mode ${String(mode)}`);
  const socket = createSocket('udp4');
  let sent = 0;
  for (const d of datagrams) {
    await new Promise<void>((done, fail) => {
      socket.send(d.bytes, PORT, d.to, (err) => {
        if (err) fail(err);
        else done();
      });
    });
    sent++;
    // A short pause now and then, so the target's socket buffer is not the thing that drops.
    if (sent % 200 === 0) await new Promise((r) => setTimeout(r, 5));
  }
  socket.close();
  process.stdout.write(`${sent}\n`);
}

await main();
