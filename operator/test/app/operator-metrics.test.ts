import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Controller } from '../../src/controller/reconciler.js';
import { OVERFLOW_ORG, OperatorMetrics } from '../../src/metrics/operator-metrics.js';

/** The value of one sample line, e.g. `workqueue_adds_total{name="fake"}`; undefined if absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('OperatorMetrics', () => {
  it('reports controller-runtime series after a fake controller has run', async () => {
    const metrics = new OperatorMetrics();
    const outcomes = new Map<string, 'ok' | 'fail' | 'requeue' | 'later'>([
      ['a', 'ok'],
      ['b', 'fail'],
      ['c', 'requeue'],
      ['d', 'later'],
    ]);
    const seen = new Set<string>();
    const controller = new Controller({
      name: 'fake',
      workers: 2,
      metrics: metrics.controllerMetrics('fake'),
      queue: { metrics: metrics.workQueueMetrics('fake') },
      reconciler: {
        reconcile(key) {
          const first = !seen.has(key);
          seen.add(key);
          const outcome = first ? outcomes.get(key) : 'ok';
          if (outcome === 'fail') return Promise.reject(new Error('boom'));
          if (outcome === 'requeue') return Promise.resolve({ requeue: true });
          if (outcome === 'later') return Promise.resolve({ requeueAfterMs: 5 });
          return Promise.resolve(undefined);
        },
      },
    });
    const untrack = metrics.trackQueue(controller.queue);
    const setLeader = metrics.leaderElection('meshguard-operator');
    setLeader(true);
    for (const key of outcomes.keys()) controller.queue.add(key);
    controller.start();
    const deadline = Date.now() + 5_000;
    while (controller.stats.reconciles < 7 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    await controller.stop();
    untrack();

    const text = await metrics.text();
    const c = 'controller="fake"';
    assert.equal(sample(text, `controller_runtime_reconcile_total{${c},result="success"}`), 4);
    assert.equal(sample(text, `controller_runtime_reconcile_total{${c},result="error"}`), 1);
    assert.equal(sample(text, `controller_runtime_reconcile_total{${c},result="requeue"}`), 1);
    assert.equal(sample(text, `controller_runtime_reconcile_total{${c},result="requeue_after"}`), 1);
    assert.equal(sample(text, `controller_runtime_reconcile_errors_total{${c}}`), 1);
    assert.equal(sample(text, `controller_runtime_reconcile_time_seconds_count{${c}}`), 7);
    assert.equal(sample(text, `controller_runtime_active_workers{${c}}`), 0);
    const q = 'name="fake"';
    assert.equal(sample(text, `workqueue_adds_total{${q}}`), 7);
    assert.equal(sample(text, `workqueue_retries_total{${q}}`), 3, 'error, requeue and requeue-after');
    assert.equal(sample(text, `workqueue_depth{${q}}`), 0);
    assert.equal(sample(text, `workqueue_queue_duration_seconds_count{${q}}`), 7);
    assert.equal(sample(text, `workqueue_work_duration_seconds_count{${q}}`), 7);
    assert.equal(sample(text, `leader_election_master_status{name="meshguard-operator"}`), 1);
    assert.match(text, /^process_cpu_user_seconds_total /m, 'process default metrics');
    assert.match(text, /^nodejs_eventloop_lag_seconds /m);
    assert.match(text, /# TYPE controller_runtime_reconcile_time_seconds histogram/);
    assert.match(text, /# TYPE workqueue_longest_running_processor_seconds gauge/);
  });

  it('samples in-progress work of tracked queues at scrape time', async () => {
    const metrics = new OperatorMetrics({ defaultMetrics: false });
    const untrack = metrics.trackQueue({
      name: 'slow',
      unfinishedWorkSeconds: () => 12.5,
      longestRunningProcessorSeconds: () => 10,
    });
    let text = await metrics.text();
    assert.equal(sample(text, 'workqueue_unfinished_work_seconds{name="slow"}'), 12.5);
    assert.equal(sample(text, 'workqueue_longest_running_processor_seconds{name="slow"}'), 10);
    untrack();
    text = await metrics.text();
    assert.equal(sample(text, 'workqueue_unfinished_work_seconds{name="slow"}'), undefined);
    assert.doesNotMatch(text, /^process_/m, 'default metrics can be turned off');
  });

  it('keeps org label cardinality bounded, and forgets deleted orgs', async () => {
    const metrics = new OperatorMetrics({ defaultMetrics: false, maxOrgs: 2 });
    const { domain } = metrics;
    domain.certificateIssued('acme');
    domain.certificateIssued('acme');
    domain.certificateIssued('globex');
    domain.certificateIssued('initech');
    domain.setCertificatesExpiring('acme', 3);
    domain.setCertificatesExpiring('umbrella', 1);
    let text = await metrics.text();
    assert.equal(sample(text, 'meshguard_certificates_issued_total{org="acme"}'), 2);
    assert.equal(sample(text, 'meshguard_certificates_issued_total{org="globex"}'), 1);
    assert.equal(sample(text, `meshguard_certificates_issued_total{org="${OVERFLOW_ORG}"}`), 1);
    assert.equal(sample(text, 'meshguard_certificates_issued_total{org="initech"}'), undefined);
    assert.equal(sample(text, 'meshguard_certificates_expiring{org="acme"}'), 3);
    assert.equal(sample(text, `meshguard_certificates_expiring{org="${OVERFLOW_ORG}"}`), 1);

    domain.forgetOrg('acme');
    domain.certificateIssued('initech');
    text = await metrics.text();
    assert.equal(sample(text, 'meshguard_certificates_issued_total{org="acme"}'), undefined);
    assert.equal(sample(text, 'meshguard_certificates_expiring{org="acme"}'), undefined);
    assert.equal(sample(text, 'meshguard_certificates_issued_total{org="initech"}'), 1, 'its slot went to a new org');
  });
});
