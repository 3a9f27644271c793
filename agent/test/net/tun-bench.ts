// Benchmark, not a test: packets per second through the TUN addon. Run as root:
//   node agent/dist/test/net/tun-bench.js [seconds]
// It creates a network namespace and runs itself inside it. There it writes ICMP echo requests
// into the TUN (from a peer address to ours), the kernel answers each one, and the replies are
// read back in batches. Each reply batch is answered by writing as many new requests, so a fixed
// window of packets keeps circulating. What this measures is the addon plus the kernel's
// TUN/ICMP path, which is the ceiling for the userspace data plane's I/O edge.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TunDevice } from '../../src/net/tun-device.js';

const BATCH = 64;
const WINDOW = 256;

function checksum(buf: Uint8Array, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i < end; i += 2) sum += (buf[i]! << 8) | (i + 1 < end ? buf[i + 1]! : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An IPv4 ICMP echo request of `size` bytes from 10.66.0.2 to 10.66.0.1 at buf[off]. */
function echoRequest(buf: Uint8Array, off: number, size: number, sequence: number): void {
  const view = new DataView(buf.buffer, buf.byteOffset + off, size);
  view.setUint8(0, 0x45);
  view.setUint16(2, size);
  view.setUint8(8, 64);
  view.setUint8(9, 1);
  buf.set([10, 66, 0, 2, 10, 66, 0, 1], off + 12);
  view.setUint16(10, checksum(buf, off, off + 20));
  view.setUint8(20, 8);
  view.setUint16(24, 0x6d67);
  view.setUint16(26, sequence);
  view.setUint16(22, checksum(buf, off + 20, off + size));
}

async function measure(size: number, seconds: number): Promise<string> {
  const tun = TunDevice.open('mgbench0', { batchSize: BATCH });
  tun.configure({ mtu: 1500, addresses: ['10.66.0.1/24'], up: true });
  const requests = new Uint8Array(WINDOW * 2048);
  const offsets = new Uint32Array(WINDOW);
  const lengths = new Uint32Array(WINDOW).fill(size);
  for (let i = 0; i < WINDOW; i++) {
    offsets[i] = i * 2048;
    echoRequest(requests, offsets[i]!, size, i);
  }
  let replies = 0;
  let batches = 0;
  tun.onPackets((batch) => {
    replies += batch.count;
    batches++;
    tun.writeBatch(requests, offsets, lengths, batch.count);
  });
  tun.writeBatch(requests, offsets, lengths, WINDOW);
  // The first second warms up the JIT and the kernel's caches.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const start = tun.counters();
  const startReplies = replies;
  const startBatches = batches;
  const began = process.hrtime.bigint();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const elapsed = Number(process.hrtime.bigint() - began) / 1e9;
  const end = tun.counters();
  tun.close();
  const read = (end.packetsRead - start.packetsRead) / elapsed;
  const written = (end.packetsWritten - start.packetsWritten) / elapsed;
  const perBatch = (replies - startReplies) / Math.max(1, batches - startBatches);
  const gbits = ((end.bytesRead - start.bytesRead) * 8) / elapsed / 1e9;
  return (
    `${size}-byte packets: read ${Math.round(read).toLocaleString('en')} pkt/s, ` +
    `written ${Math.round(written).toLocaleString('en')} pkt/s (${gbits.toFixed(2)} Gbit/s each way), ` +
    `${perBatch.toFixed(1)} packets per read batch, drops ${end.writeDrops - start.writeDrops}`
  );
}

const seconds = Number(process.argv[2] ?? 5);
if (process.argv[3] === '--inside') {
  for (const size of [84, 1420]) process.stdout.write(`${await measure(size, seconds)}\n`);
} else {
  const ns = `mgbench-${process.pid}`;
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    const self = fileURLToPath(import.meta.url);
    execFileSync('ip', ['netns', 'exec', ns, process.execPath, self, String(seconds), '--inside'], {
      stdio: 'inherit',
    });
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
}
