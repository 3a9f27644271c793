/** NAT classification as carried in gossip entries and `mg://` tokens (spec §6.4, §10). */
export type NatType = 'public' | 'cone' | 'symmetric' | 'unknown';

const CODES: Readonly<Record<NatType, number>> = { public: 0, cone: 1, symmetric: 2, unknown: 3 };
const BY_CODE: readonly NatType[] = ['public', 'cone', 'symmetric', 'unknown'];

export function natTypeCode(type: NatType): number {
  return CODES[type];
}

/** Codes beyond 3 read as `unknown`, as the reference does, instead of failing the message. */
export function natTypeFromCode(code: number): NatType {
  return BY_CODE[code] ?? 'unknown';
}
