import { ArgumentError } from '../errors.js';

const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800, y: 31_536_000 };
const PART = /(\d+)([smhdwy])/g;
/** Ten thousand years: far beyond any sane lifetime, well inside i64 seconds. */
const MAX_SECONDS = 10_000 * 31_536_000;

/**
 * Parses lifetimes such as `90d`, `12h`, `1h30m`, `1y` into seconds. Units: s m h d w y
 * (a year is 365 days). Returns null for `never`, which callers map to "does not expire".
 */
export function parseDuration(text: string): number | null {
  if (text === 'never') return null;
  if (!/^(\d+[smhdwy])+$/.test(text)) {
    throw new ArgumentError(`invalid duration "${text}" (examples: 90d, 12h, 1h30m, 1y, never)`);
  }
  let total = 0;
  for (const [, count, unit] of text.matchAll(PART)) total += Number(count) * UNIT_SECONDS[unit!]!;
  if (total <= 0 || total > MAX_SECONDS) throw new ArgumentError(`duration "${text}" out of range`);
  return total;
}

export function formatUnixSeconds(seconds: bigint): string {
  const ms = Number(seconds) * 1000;
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) return `${seconds} (out of range)`;
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}
