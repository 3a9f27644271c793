import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ArgumentError } from '@meshguard/core';
import { EventLoopMonitor } from '../../src/app/event-loop-monitor.js';
import { OperatorHttpServer, parseListenAddress } from '../../src/app/http-server.js';
import { OperatorMetrics } from '../../src/metrics/operator-metrics.js';

describe('parseListenAddress', () => {
  it('accepts host:port, :port and [v6]:port', () => {
    assert.deepEqual(parseListenAddress(':8080'), { host: '0.0.0.0', port: 8080 });
    assert.deepEqual(parseListenAddress('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
    assert.deepEqual(parseListenAddress('[::1]:9443'), { host: '::1', port: 9443 });
    for (const bad of ['8080', 'host:', ':70000', '::1:80', 'a:b']) {
      assert.throws(() => parseListenAddress(bad), ArgumentError, bad);
    }
  });
});

describe('OperatorHttpServer', () => {
  it('serves /metrics, /healthz and /readyz, with ?verbose and failing checks', async () => {
    const metrics = new OperatorMetrics({ defaultMetrics: false });
    metrics.leaderElection('meshguard-operator')(true);
    let synced = false;
    const server = await OperatorHttpServer.start({
      address: '127.0.0.1:0',
      metrics,
      liveness: [{ name: 'event-loop', check: () => undefined }],
      readiness: [
        { name: 'informers-synced', check: () => (synced ? undefined : 'not synced: meshorgs') },
        { name: 'leader-election', check: () => undefined },
      ],
    });
    try {
      const get = async (path: string): Promise<{ status: number; type: string | null; body: string }> => {
        const res = await fetch(`${server.url}${path}`);
        return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
      };
      const m = await get('/metrics');
      assert.equal(m.status, 200);
      assert.match(m.type ?? '', /^text\/plain; version=0\.0\.4/);
      assert.match(m.body, /^leader_election_master_status\{name="meshguard-operator"\} 1$/m);

      assert.deepEqual(await get('/healthz'), { status: 200, type: 'text/plain; charset=utf-8', body: 'ok\n' });
      assert.equal((await get('/livez')).status, 200);
      const notReady = await get('/readyz');
      assert.equal(notReady.status, 500);
      assert.equal(notReady.body, '[-]informers-synced failed: not synced: meshorgs\ncheck failed\n');
      assert.equal(
        (await get('/readyz?verbose')).body,
        '[-]informers-synced failed: not synced: meshorgs\n[+]leader-election ok\ncheck failed\n',
      );
      synced = true;
      assert.equal((await get('/readyz')).status, 200);
      assert.equal(
        (await get('/readyz?verbose')).body,
        '[+]informers-synced ok\n[+]leader-election ok\ncheck passed\n',
      );
      assert.equal((await get('/nope')).status, 404);
    } finally {
      await server.close();
    }
    await server.close();
    await assert.rejects(fetch(`${server.url}/healthz`), 'closed');
  });

  it('a throwing check fails its probe instead of the server', async () => {
    const server = await OperatorHttpServer.start({
      address: '127.0.0.1:0',
      liveness: [
        {
          name: 'broken',
          check: () => {
            throw new Error('check exploded');
          },
        },
      ],
    });
    try {
      const res = await fetch(`${server.url}/healthz`);
      assert.equal(res.status, 500);
      assert.equal(await res.text(), '[-]broken failed: check exploded\ncheck failed\n');
      assert.equal((await fetch(`${server.url}/metrics`)).status, 404, 'no metrics source, no route');
    } finally {
      await server.close();
    }
  });
});

describe('EventLoopMonitor', () => {
  it('reports a stall of the event loop longer than its limit', async () => {
    const monitor = new EventLoopMonitor({ maxDelayMs: 100, windowMs: 60_000 });
    try {
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(monitor.check(), undefined);
      const until = Date.now() + 250;
      while (Date.now() < until) {
        // Blocks the loop on purpose.
      }
      await new Promise((r) => setTimeout(r, 50));
      assert.match(monitor.check() ?? '', /^event loop stalled for \d+ ms \(limit 100 ms\)$/);
    } finally {
      monitor.stop();
    }
  });
});
