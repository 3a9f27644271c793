import { toHex } from '@meshguard/core';
import type { SwimEvent } from '../swim/swim-events.js';
import type { SimHost } from './simulation.js';

const UNKNOWN = 0;
const ALIVE = 1;
const SUSPECT = 2;
const DEAD = 3;
const LEFT = 4;

/**
 * Every host's view of every other, kept as an N×N byte matrix fed by the nodes' events, so
 * "has the mesh converged?" is a scan of bytes rather than a thousand membership snapshots.
 * Also records when each observer first marked a subject dead or left, and every death or
 * suspicion of a subject that was in fact up (false positives).
 */
export class MeshObserver {
  readonly size: number;
  readonly #index = new Map<string, number>();
  readonly #view: Uint8Array;
  readonly #goneAt = new Map<number, Map<number, number>>();
  readonly #down = new Set<number>();
  #falseDead = 0;
  #falseSuspect = 0;
  readonly #falselyDead = new Set<number>();

  constructor(size: number) {
    this.size = size;
    this.#view = new Uint8Array(size * size);
  }

  register(index: number, publicKey: Uint8Array): void {
    this.#index.set(toHex(publicKey), index);
  }

  /** Subjects that are really down (killed or leaving): their deaths are not false positives. */
  markDown(index: number): void {
    this.#down.add(index);
  }

  get falseDeaths(): number {
    return this.#falseDead;
  }

  get falseSuspicions(): number {
    return this.#falseSuspect;
  }

  /** Distinct live subjects some observer declared dead. */
  get falselyDeadSubjects(): number {
    return this.#falselyDead.size;
  }

  resetFalsePositives(): void {
    this.#falseDead = 0;
    this.#falseSuspect = 0;
    this.#falselyDead.clear();
  }

  readonly onEvent = (host: SimHost, event: SwimEvent, now: number): void => {
    let subjectKey: string;
    let code: number;
    switch (event.type) {
      case 'member-joined':
      case 'member-alive':
        subjectKey = event.member.publicKeyHex;
        code = event.member.state === 'suspect' ? SUSPECT : ALIVE;
        break;
      case 'member-suspect':
        subjectKey = event.member.publicKeyHex;
        code = SUSPECT;
        break;
      case 'member-dead':
        subjectKey = event.member.publicKeyHex;
        code = DEAD;
        break;
      case 'member-left':
        subjectKey = event.member.publicKeyHex;
        code = LEFT;
        break;
      case 'member-forgotten':
        subjectKey = toHex(event.publicKey);
        code = UNKNOWN;
        break;
      default:
        return;
    }
    const subject = this.#index.get(subjectKey);
    if (subject === undefined) return;
    this.#view[host.index * this.size + subject] = code;
    if (code === DEAD || code === LEFT) {
      let marks = this.#goneAt.get(subject);
      if (marks === undefined) {
        marks = new Map();
        this.#goneAt.set(subject, marks);
      }
      if (!marks.has(host.index)) marks.set(host.index, now);
    }
    if (!this.#down.has(subject)) {
      if (code === DEAD) {
        this.#falseDead++;
        this.#falselyDead.add(subject);
      } else if (code === SUSPECT) {
        this.#falseSuspect++;
      }
    }
  };

  state(observer: number, subject: number): 'unknown' | 'alive' | 'suspect' | 'dead' | 'left' {
    return (['unknown', 'alive', 'suspect', 'dead', 'left'] as const)[this.#view[observer * this.size + subject]!]!;
  }

  /** True when every host in `live` holds every other host in `live` as alive. */
  converged(live: readonly number[]): boolean {
    for (const o of live) {
      const row = o * this.size;
      for (const s of live) {
        if (s !== o && this.#view[row + s] !== ALIVE) return false;
      }
    }
    return true;
  }

  /** How many (observer, subject) pairs among `live` are not yet alive — progress toward convergence. */
  missing(live: readonly number[]): number {
    let missing = 0;
    for (const o of live) {
      const row = o * this.size;
      for (const s of live) if (s !== o && this.#view[row + s] !== ALIVE) missing++;
    }
    return missing;
  }

  /** When each observer first marked `subject` dead or left. */
  goneMarks(subject: number): ReadonlyMap<number, number> {
    return this.#goneAt.get(subject) ?? new Map();
  }

  /** True when every observer in `observers` has marked `subject` dead or left. */
  allMarkedGone(subject: number, observers: readonly number[]): boolean {
    const marks = this.#goneAt.get(subject);
    if (marks === undefined) return false;
    return observers.every((o) => o === subject || marks.has(o));
  }
}
