import { DecodeError } from '@meshguard/core';
import { sameEndpoint, type UdpEndpoint } from '../wireguard/endpoint.js';
import { stunAnswerProblem, type StunObservation } from './nat-classification.js';
import { decodeStunBindingResponse, encodeStunBindingRequest, STUN_TRANSACTION_ID_BYTES } from './stun-codec.js';

export interface Datagram {
  readonly bytes: Uint8Array;
  readonly to: UdpEndpoint;
}

/** Retransmission after 0.5 s, then 1 s (RFC 5389's doubling RTO, cut short), giving up at 3.5 s. */
export const STUN_RETRANSMIT_MS: readonly number[] = [500, 1000];
export const STUN_GIVE_UP_MS = 3500;

interface ServerState {
  readonly server: UdpEndpoint;
  readonly transactionId: Uint8Array;
  readonly request: Uint8Array;
  sent: number;
  nextAt: number;
  observation: StunObservation | null;
  problem: string | null;
}

/**
 * One round of STUN Binding requests to every configured server at once, sans I/O: the caller
 * sends what `start`/`tick` return from the mesh's own UDP socket (so the mapping measured is
 * the one peers will see) and passes every STUN-looking datagram to `handle`.
 *
 * An answer counts only if it carries the transaction ID we sent to that server *and* comes
 * from that server's address: a third party that guesses neither cannot feed us an address.
 */
export class StunProbe {
  readonly #servers: ServerState[];
  readonly #startedAt: number;

  constructor(servers: readonly UdpEndpoint[], random: (bytes: number) => Uint8Array, nowMs: number) {
    this.#startedAt = nowMs;
    this.#servers = servers.map((server) => {
      const transactionId = random(STUN_TRANSACTION_ID_BYTES);
      return {
        server,
        transactionId,
        request: encodeStunBindingRequest(transactionId),
        sent: 0,
        nextAt: nowMs,
        observation: null,
        problem: null,
      };
    });
  }

  /** Requests due now (first sends and retransmissions). */
  tick(nowMs: number): Datagram[] {
    const out: Datagram[] = [];
    for (const s of this.#servers) {
      if (s.observation !== null || s.problem !== null) continue;
      if (nowMs - this.#startedAt >= STUN_GIVE_UP_MS) {
        s.problem = 'no answer';
        continue;
      }
      if (nowMs < s.nextAt || s.sent > STUN_RETRANSMIT_MS.length) continue;
      out.push({ bytes: s.request, to: s.server });
      s.nextAt = nowMs + (STUN_RETRANSMIT_MS[s.sent] ?? Infinity);
      s.sent++;
    }
    return out;
  }

  /** True if the datagram answered one of our requests (whether or not the answer was usable). */
  handle(bytes: Uint8Array, from: UdpEndpoint): boolean {
    for (const s of this.#servers) {
      if (s.observation !== null || s.problem !== null || !sameEndpoint(s.server, from)) continue;
      let mapped: UdpEndpoint;
      try {
        const answer = decodeStunBindingResponse(bytes, s.transactionId);
        mapped = { address: answer.mapped.address, port: answer.mapped.port };
      } catch (err) {
        if (err instanceof DecodeError) continue; // not the answer to this request
        throw err;
      }
      const problem = stunAnswerProblem(mapped);
      if (problem === null) s.observation = { server: s.server, mapped };
      else s.problem = `absurd answer: ${problem}`;
      return true;
    }
    return false;
  }

  get done(): boolean {
    return this.#servers.every((s) => s.observation !== null || s.problem !== null);
  }

  get observations(): StunObservation[] {
    return this.#servers.flatMap((s) => (s.observation === null ? [] : [s.observation]));
  }

  /** Servers that gave nothing usable, and why. */
  get problems(): string[] {
    return this.#servers.flatMap((s) =>
      s.problem === null ? [] : [`${s.server.address}:${s.server.port}: ${s.problem}`],
    );
  }
}
