/**
 * `npm run bench:aead` (root): ChaCha20-Poly1305 seal and open of 1420-byte packets (a full
 * WireGuard payload at the default MTU) on one core, through
 *   - node:crypto, one createCipheriv/createDecipheriv per packet (what aead.ts did before),
 *   - aead.ts sealInto/openInto/open (the native addon, one call per packet),
 *   - aead.ts sealBatch/openBatch (one call per BENCH_BATCH packets, default 64).
 * Prints packets/s and Gbit/s of payload. BENCH_SECONDS (default 1) is the time per row.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import process from 'node:process';
import { AeadBatch, open, openBatch, openInto, sealBatch, sealInto } from '../src/wireguard/aead.js';
import { aeadBackend } from '../src/wireguard/aead-binding.js';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 1);
const BATCH = Number(process.env['BENCH_BATCH'] ?? 64);
const PACKET = 1420;
const TAG = 16;
const HEADER = 16;

const key = new Uint8Array(32).map((_, i) => i * 7 + 1);
const plaintext = new Uint8Array(PACKET).map((_, i) => i);
const nonce = Buffer.alloc(12);

function wgNonce(counter: number): Buffer {
  nonce.writeUInt32LE(counter >>> 0, 4);
  nonce.writeUInt32LE(Math.floor(counter / 0x1_0000_0000), 8);
  return nonce;
}

/** The previous aead.ts, verbatim in effect: a fresh OpenSSL cipher object per packet. */
function nodeSealInto(counter: number, input: Uint8Array, out: Uint8Array, outOffset: number): number {
  const cipher = createCipheriv('chacha20-poly1305', key, wgNonce(counter), { authTagLength: TAG });
  const body = cipher.update(input);
  cipher.final();
  out.set(body, outOffset);
  out.set(cipher.getAuthTag(), outOffset + body.length);
  return body.length + TAG;
}

function nodeOpen(counter: number, sealed: Uint8Array): Uint8Array | null {
  const bodyLength = sealed.length - TAG;
  const decipher = createDecipheriv('chacha20-poly1305', key, wgNonce(counter), { authTagLength: TAG });
  decipher.setAuthTag(sealed.subarray(bodyLength));
  const body = decipher.update(sealed.subarray(0, bodyLength));
  try {
    decipher.final();
  } catch {
    return null;
  }
  return body;
}

interface Row {
  label: string;
  pps: number;
}

/** Runs `step` (which handles `perStep` packets) for SECONDS after a short warm-up; packets/s. */
function measure(label: string, perStep: number, step: () => void): Row {
  const warmUntil = performance.now() + Math.min(200, SECONDS * 200);
  while (performance.now() < warmUntil) step();
  let steps = 0;
  const start = performance.now();
  let now = start;
  const end = start + SECONDS * 1000;
  while (now < end) {
    // Check the clock only every few packets, so timing stays out of what is measured.
    for (let i = 0; i < 16; i++) step();
    steps += 16;
    now = performance.now();
  }
  return { label, pps: (steps * perStep) / ((now - start) / 1000) };
}

function main(): void {
  const sealedOnce = new Uint8Array(PACKET + TAG);
  sealInto(key, 42, plaintext, null, sealedOnce, 0);
  const wire = new Uint8Array(HEADER + PACKET + TAG);
  const opened = new Uint8Array(PACKET);
  if (open(key, 42, sealedOnce, null) === null || nodeOpen(42, sealedOnce) === null) {
    throw new Error('self-check failed: a sealed packet does not open');
  }

  // Batch layout as a TUN read batch would give it: one slot per packet, header room in front.
  const slot = HEADER + PACKET + TAG;
  const batch = new AeadBatch(BATCH);
  const slots = new Uint8Array(BATCH * slot);
  const sealedSlots = new Uint8Array(BATCH * slot);
  const openedSlots = new Uint8Array(BATCH * slot);
  for (let i = 0; i < BATCH; i++) {
    batch.counters[i] = 42;
    batch.srcOffsets[i] = i * slot + HEADER;
    batch.srcLengths[i] = PACKET;
    batch.dstOffsets[i] = i * slot + HEADER;
    slots.set(plaintext, i * slot + HEADER);
    sealedSlots.set(sealedOnce, i * slot + HEADER);
  }
  const openDescriptors = new AeadBatch(BATCH);
  openDescriptors.counters.fill(42);
  openDescriptors.srcOffsets.set(batch.srcOffsets);
  openDescriptors.srcLengths.fill(PACKET + TAG);
  openDescriptors.dstOffsets.set(batch.dstOffsets);

  let counter = 0;
  const rows: Row[] = [
    measure('seal  node:crypto createCipheriv (before)', 1, () => {
      nodeSealInto(counter++, plaintext, wire, HEADER);
    }),
    measure('seal  native sealInto', 1, () => {
      sealInto(key, counter++, plaintext, null, wire, HEADER);
    }),
    measure(`seal  native sealBatch ×${BATCH} (in place)`, BATCH, () => {
      for (let i = 0; i < BATCH; i++) batch.counters[i] = counter++;
      sealBatch(key, slots, slots, batch, BATCH);
    }),
    measure('open  node:crypto createDecipheriv (before)', 1, () => {
      if (nodeOpen(42, sealedOnce) === null) throw new Error('open failed');
    }),
    measure('open  native open (allocates the result)', 1, () => {
      if (open(key, 42, sealedOnce, null) === null) throw new Error('open failed');
    }),
    measure('open  native openInto', 1, () => {
      if (openInto(key, 42, sealedOnce, null, opened, 0) < 0) throw new Error('open failed');
    }),
    measure(`open  native openBatch ×${BATCH}`, BATCH, () => {
      if (openBatch(key, sealedSlots, openedSlots, openDescriptors, BATCH) !== BATCH) throw new Error('open failed');
    }),
  ];

  process.stdout.write(
    `ChaCha20-Poly1305, ${PACKET}-byte packets, one core (backend: ${aeadBackend()}, node ${process.version}, ` +
      `OpenSSL ${process.versions.openssl})\n\n`,
  );
  const width = Math.max(...rows.map((r) => r.label.length));
  process.stdout.write(
    `${'operation'.padEnd(width)}  ${'packets/s'.padStart(11)}  ${'Gbit/s'.padStart(7)}  µs/packet\n`,
  );
  for (const { label, pps } of rows) {
    const gbps = (pps * PACKET * 8) / 1e9;
    process.stdout.write(
      `${label.padEnd(width)}  ${Math.round(pps).toLocaleString('en-US').padStart(11)}  ${gbps.toFixed(2).padStart(7)}  ${(1e6 / pps).toFixed(2)}\n`,
    );
  }
  process.stdout.write('\nGoal: 0.93 Gbit/s single-stream ≈ 83k packets/s each way.\n');
}

main();
