import type { Namespace, Topology } from '../test/support/netns.js';

/** TCP throughput from `client` to `address` (served in `server`) in Gbit/s, by iperf3. */
export function iperf(
  t: Topology,
  client: Namespace,
  server: Namespace,
  address: string,
  streams: number,
  seconds: number,
): number {
  const srv = t.spawn(server, ['iperf3', '-s', '-1']);
  try {
    // iperf3 -s needs a moment to listen; retry the client until it connects.
    for (let attempt = 0; ; attempt++) {
      const r = t.tryExec(client, ['iperf3', '-c', address, '-t', String(seconds), '-P', String(streams), '-J'], {
        timeoutMs: (seconds + 20) * 1000,
      });
      const json = (r.stdout.trim().startsWith('{') ? JSON.parse(r.stdout) : {}) as {
        error?: string;
        end?: { sum_received?: { bits_per_second: number } };
      };
      const bps = json.end?.sum_received?.bits_per_second;
      if (r.status === 0 && json.error === undefined && bps !== undefined) return bps / 1e9;
      if (attempt >= 20) throw new Error(`iperf3 failed: ${json.error ?? ''} ${r.stderr}`);
      t.tryExec(client, ['sleep', '0.2']);
    }
  } finally {
    srv.killNow();
  }
}

/** Mean ping RTT in ms over 20 pings. */
export function ping(t: Topology, from: Namespace, address: string): number {
  const out = t.exec(from, ['ping', '-c', '20', '-i', '0.2', '-q', address], { timeoutMs: 30_000 });
  const m = /= [\d.]+\/([\d.]+)\//.exec(out);
  if (m === null) throw new Error(`cannot parse ping output: ${out}`);
  return Number(m[1]);
}
