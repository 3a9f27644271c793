import type { Member } from './member.js';

/**
 * Per-member patience: Lifeguard's local health, applied to the target instead of to
 * ourselves. A member whose incarnation went up had to refute a suspicion — it is slow or
 * badly connected, but alive — so probes of it get proportionally longer timeouts for a while.
 * Without this a slow member is suspected, refuted and suspected again every period, each
 * round costing the mesh two rumours and a confirming probe from every member.
 */
export function patienceOf(m: Member, nowMs: number, decayMs: number): number {
  if (m.patience === 0) return 0;
  return Math.max(0, m.patience - Math.floor((nowMs - m.patienceAt) / decayMs));
}

export function adjustPatience(m: Member, delta: number, max: number, nowMs: number, decayMs: number): void {
  const next = Math.min(max, Math.max(0, patienceOf(m, nowMs, decayMs) + delta));
  if (next === m.patience && delta < 0) return;
  m.patience = next;
  m.patienceAt = nowMs;
}
