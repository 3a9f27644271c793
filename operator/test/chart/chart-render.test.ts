import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { spawnSync } from 'node:child_process';
import type {
  V1ClusterRole,
  V1ClusterRoleBinding,
  V1Container,
  V1CustomResourceDefinition,
  V1DaemonSet,
  V1Deployment,
  V1PodSpec,
  V1PolicyRule,
  V1Role,
  V1RoleBinding,
  V1Service,
  V1ValidatingAdmissionPolicy,
  V1ValidatingAdmissionPolicyBinding,
} from '@kubernetes/client-node';
import { requireCapability } from '@meshguard/core/testing';
import { loadCrdManifests } from '../../src/api/crd-manifests.js';
import {
  AGENT_CLUSTER_RULES,
  AGENT_NAMESPACE_RULES,
  FORBIDDEN_VERBS,
  OPERATOR_CLUSTER_RULES,
  OPERATOR_EVENT_RULES,
  OPERATOR_NAMESPACE_RULES,
  type Rule,
} from './expected-rbac.js';
import {
  CHART_DIR,
  CRD_SOURCE_DIR,
  helmAvailability,
  helmLint,
  helmTemplate,
  KUBE_VERSION,
  NAMESPACE,
  only,
  renderChart,
  runHelm,
  type RenderedObject,
  type Values,
} from './helm.js';

// The chart as `helm lint` and `helm template` see it: what it renders with the defaults and with
// other values, the security invariants of every pod and role, and the values it refuses.

const ORG = { org: 'acme' } as const;

function helm(t: TestContext): boolean {
  const { available, reason } = helmAvailability();
  return requireCapability(t, available, reason);
}

function sortedRules(rules: readonly (V1PolicyRule | Rule)[] | undefined): string[] {
  return (rules ?? []).map((r) =>
    JSON.stringify({
      apiGroups: [...(r.apiGroups ?? [])].sort(),
      resources: [...(r.resources ?? [])].sort(),
      resourceNames: [...(r.resourceNames ?? [])].sort(),
      verbs: [...r.verbs].sort(),
    }),
  );
}

function assertRules(actual: readonly V1PolicyRule[] | undefined, expected: readonly Rule[], what: string): void {
  assert.deepEqual(
    sortedRules(actual).sort(),
    sortedRules(expected).sort(),
    `${what}: rules differ from expected-rbac.ts`,
  );
}

function containers(spec: V1PodSpec | undefined): V1Container[] {
  return [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];
}

function podSpecs(objects: readonly RenderedObject[]): { name: string; spec: V1PodSpec }[] {
  const specs: { name: string; spec: V1PodSpec }[] = [];
  for (const o of objects) {
    if (o.kind !== 'DaemonSet' && o.kind !== 'Deployment') continue;
    const spec = (o.object as V1DaemonSet | V1Deployment).spec?.template.spec;
    assert.ok(spec !== undefined, `${o.kind}/${o.name} has no pod spec`);
    specs.push({ name: `${o.kind}/${o.name}`, spec });
  }
  return specs;
}

/** The value, asserted present (a typed model field that is optional). */
function defined<T>(value: T | undefined, what: string): T {
  assert.ok(value !== undefined, `${what} is missing`);
  return value;
}

function container(spec: V1PodSpec | undefined, name: string): V1Container {
  const found = containers(spec).find((c) => c.name === name);
  assert.ok(found !== undefined, `no container ${name}`);
  return found;
}

/** The expected objects of a default install, as kind/namespace/name. */
const DEFAULT_OBJECTS = [
  'ClusterRole//meshguard-agent',
  'ClusterRole//meshguard-operator',
  'ClusterRoleBinding//meshguard-agent',
  'ClusterRoleBinding//meshguard-operator',
  'CustomResourceDefinition//meshnodes.meshguard.dev',
  'CustomResourceDefinition//meshorgs.meshguard.dev',
  'DaemonSet/meshguard-system/meshguard-agent',
  'Deployment/meshguard-system/meshguard-operator',
  'Role/default/meshguard-operator-events',
  'Role/meshguard-system/meshguard-agent',
  'Role/meshguard-system/meshguard-operator',
  'RoleBinding/default/meshguard-operator-events',
  'RoleBinding/meshguard-system/meshguard-agent',
  'RoleBinding/meshguard-system/meshguard-operator',
  'Service/meshguard-system/meshguard-agent-metrics',
  'Service/meshguard-system/meshguard-operator-metrics',
  'ServiceAccount/meshguard-system/meshguard-agent',
  'ServiceAccount/meshguard-system/meshguard-operator',
  'ValidatingAdmissionPolicy//meshguard-agent-meshnode',
  'ValidatingAdmissionPolicyBinding//meshguard-agent-meshnode',
];

function inventory(objects: readonly RenderedObject[]): string[] {
  return objects.map((o) => `${o.kind}/${o.namespace ?? ''}/${o.name}`).sort();
}

describe('helm lint', { timeout: 120_000 }, () => {
  it('passes --strict with only org set, and with every optional value set', (t) => {
    if (!helm(t)) return;
    const full: Values = {
      org: 'acme',
      image: { tag: '0.2.0-rc.1', pullPolicy: 'Always' },
      imagePullSecrets: [{ name: 'regcred' }],
      fullnameOverride: 'mg',
      commonLabels: { team: 'net' },
      crds: { install: false, keep: false },
      operator: {
        image: { repository: 'registry.example:5000/mesh/meshguard-operator', digest: `sha256:${'a'.repeat(64)}` },
        replicas: 2,
        orgKeySecrets: [
          { namespace: 'security', name: 'acme-org-key' },
          { namespace: 'security', name: 'globex-org-key' },
        ],
        tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'infra', effect: 'NoSchedule' }],
        nodeSelector: { 'kubernetes.io/os': 'linux' },
        priorityClassName: 'system-cluster-critical',
      },
      agent: {
        advertise: '203.0.113.7:51821',
        stun: ['stun1.example.net:3478', 'stun2.example.net'],
        port: 51900,
        metrics: { bindAddress: '127.0.0.1', port: 9900 },
        stateDir: '/var/lib/mesh/state',
        updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '10%' } },
      },
      serviceMonitor: { enabled: true, labels: { release: 'prometheus' } },
    };
    for (const [what, values] of [
      ['org only', ORG],
      ['every value', full],
      ['operator only', { operator: { enabled: true }, agent: { enabled: false } }],
    ] as const) {
      const result = helmLint(values);
      assert.equal(result.status, 0, `${what}: ${result.stdout}${result.stderr}`);
      assert.match(result.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
  });

  it('renders nothing without org, and says what to set', (t) => {
    if (!helm(t)) return;
    const result = helmTemplate({});
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /org is required: the name of the MeshOrg the agents enroll in \(--set org=<name>\)/);
  });

  it('packages: the archive holds the chart with its CRD copies, without the maintainer scripts', (t) => {
    if (!helm(t)) return;
    const out = mkdtempSync(join(tmpdir(), 'meshguard-package-'));
    try {
      const result = runHelm(['package', CHART_DIR, '--destination', out]);
      assert.equal(result.status, 0, result.stderr);
      const archives = readdirSync(out);
      assert.deepEqual(archives, ['meshguard-0.1.0.tgz']);
      const listing = spawnSync('tar', ['-tzf', join(out, archives[0]!)], { encoding: 'utf8' });
      assert.equal(listing.status, 0, listing.stderr);
      const files = listing.stdout.trim().split('\n').sort();
      assert.ok(files.includes('meshguard/files/crds/meshnodes.meshguard.dev.yaml'), files.join('\n'));
      assert.ok(files.includes('meshguard/files/crds/meshorgs.meshguard.dev.yaml'), files.join('\n'));
      assert.ok(files.includes('meshguard/values.schema.json'), files.join('\n'));
      assert.ok(!files.some((f) => f.includes('/scripts/') || f.endsWith('.prettierrc.json')), files.join('\n'));
      // The packaged chart renders as the directory does.
      const fromArchive = runHelm([
        'template',
        'meshguard',
        join(out, archives[0]!),
        '--namespace',
        NAMESPACE,
        '--kube-version',
        KUBE_VERSION,
        '--set',
        'org=acme',
      ]);
      assert.equal(fromArchive.status, 0, fromArchive.stderr);
      assert.equal(fromArchive.stdout, helmTemplate(ORG).stdout);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('helm template with the defaults', { timeout: 120_000 }, () => {
  let rendered: RenderedObject[] | undefined;
  function objects(t: TestContext): RenderedObject[] | null {
    if (!helm(t)) return null;
    rendered ??= renderChart(ORG);
    return rendered;
  }

  it('renders exactly the expected objects, namespaced ones in the release namespace', (t) => {
    const all = objects(t);
    if (all === null) return;
    assert.deepEqual(inventory(all), DEFAULT_OBJECTS);
    for (const o of all) {
      const labels = (o.object as { metadata?: { labels?: Record<string, string> } }).metadata?.labels ?? {};
      assert.equal(labels['app.kubernetes.io/instance'], 'meshguard', `${o.kind}/${o.name} labels`);
      assert.equal(labels['app.kubernetes.io/part-of'], 'meshguard', `${o.kind}/${o.name} labels`);
    }
  });

  it('agent DaemonSet: host network, every Node, system-node-critical, the TUN device and the state hostPath', (t) => {
    const all = objects(t);
    if (all === null) return;
    const ds = only(all, 'DaemonSet') as V1DaemonSet;
    const pod = ds.spec?.template.spec;
    assert.ok(pod !== undefined);
    assert.equal(pod.hostNetwork, true);
    assert.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet');
    assert.equal(pod.priorityClassName, 'system-node-critical');
    assert.deepEqual(pod.tolerations, [{ operator: 'Exists' }]);
    assert.equal(pod.serviceAccountName, 'meshguard-agent');
    assert.equal(pod.automountServiceAccountToken, true);
    assert.equal(pod.hostPID ?? false, false);
    assert.equal(pod.hostIPC ?? false, false);
    const volumes = Object.fromEntries((pod.volumes ?? []).map((v) => [v.name, v]));
    assert.deepEqual(volumes['tun']?.hostPath, { path: '/dev/net/tun', type: 'CharDevice' });
    assert.deepEqual(volumes['state']?.hostPath, { path: '/var/lib/meshguard', type: 'DirectoryOrCreate' });
    // No other hostPath: the agent sees nothing else of the Node's filesystem.
    assert.deepEqual(
      (pod.volumes ?? []).filter((v) => v.hostPath !== undefined).map((v) => v.name),
      ['state', 'tun'],
    );

    const agent = container(pod, 'agent');
    // The agent image (node with cap_net_admin+ep); the operator's is another (plain node).
    assert.equal(agent.image, 'meshguard:0.1.0');
    assert.equal(agent.imagePullPolicy, 'IfNotPresent');
    assert.deepEqual(agent.command, ['node', '/app/agent/dist/src/cli/main.js', 'agent']);
    assert.deepEqual(agent.args, [
      '--node-name=$(NODE_NAME)',
      '--org=acme',
      `--namespace=${NAMESPACE}`,
      '--state-dir=/var/lib/meshguard',
      '--port=51821',
      '--metrics-address=0.0.0.0:9821',
    ]);
    const env = Object.fromEntries(
      (agent.env ?? []).map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath ?? `value:${e.value ?? ''}`]),
    );
    assert.deepEqual(env, {
      NODE_NAME: 'spec.nodeName',
      POD_NAMESPACE: 'metadata.namespace',
      HOST_IP: 'status.hostIP',
      // The V8 heap limits the agent's memory was measured with (values.yaml agent.nodeOptions).
      NODE_OPTIONS: 'value:--max-semi-space-size=1 --max-old-space-size=64',
    });
    assert.deepEqual(
      (agent.volumeMounts ?? []).map((m) => [m.name, m.mountPath]),
      [
        ['state', '/var/lib/meshguard'],
        ['tun', '/dev/net/tun'],
        ['tmp', '/tmp'],
      ],
    );
    assert.deepEqual(
      (agent.ports ?? []).map((p) => [p.name, p.containerPort, p.protocol]),
      [
        ['mesh', 51821, 'UDP'],
        ['metrics', 9821, 'TCP'],
      ],
    );
    assert.deepEqual(agent.livenessProbe?.httpGet, { path: '/healthz', port: 'metrics' });
    assert.deepEqual(agent.readinessProbe?.httpGet, { path: '/readyz', port: 'metrics' });
  });

  it('agent: non-root with exactly NET_ADMIN (via the file capability), read-only root filesystem', (t) => {
    const all = objects(t);
    if (all === null) return;
    const pod = (only(all, 'DaemonSet') as V1DaemonSet).spec?.template.spec;
    const sc = defined(container(pod, 'agent').securityContext, 'agent securityContext');
    assert.equal(sc.runAsNonRoot, true);
    assert.equal(sc.runAsUser, 65532);
    assert.equal(sc.runAsGroup, 65532);
    assert.equal(sc.privileged, false);
    assert.equal(sc.readOnlyRootFilesystem, true);
    assert.deepEqual(sc.capabilities, { drop: ['ALL'], add: ['NET_ADMIN'] });
    // Needed for the file capability (no_new_privs would make the kernel ignore it).
    assert.equal(sc.allowPrivilegeEscalation, true);
    assert.equal(pod?.securityContext?.seccompProfile?.type, 'RuntimeDefault');

    const init = container(pod, 'state-dir');
    const initCommand = defined(init.command, 'init command');
    const initSc = defined(init.securityContext, 'init securityContext');
    assert.equal(init.image, 'meshguard:0.1.0');
    assert.deepEqual(initCommand.slice(0, 2), ['/bin/sh', '-c']);
    assert.match(
      initCommand[2] ?? '',
      /^chown 65532:65532 \/var\/lib\/meshguard &&\s+chmod 0700 \/var\/lib\/meshguard$/,
    );
    assert.deepEqual(initSc.capabilities, { drop: ['ALL'], add: ['CHOWN', 'FOWNER'] });
    assert.equal(initSc.allowPrivilegeEscalation, false);
    assert.equal(initSc.readOnlyRootFilesystem, true);
    assert.equal(initSc.runAsUser, 0);
    assert.deepEqual(
      (init.volumeMounts ?? []).map((m) => m.name),
      ['state'],
    );
  });

  it('operator Deployment: Pod Security "restricted", flags, probes', (t) => {
    const all = objects(t);
    if (all === null) return;
    const deployment = defined((only(all, 'Deployment') as V1Deployment).spec, 'Deployment spec');
    assert.equal(deployment.replicas, 1);
    const pod = defined(deployment.template.spec, 'operator pod spec');
    assert.equal(pod.serviceAccountName, 'meshguard-operator');
    assert.equal(pod.hostNetwork ?? false, false);
    const podSc = defined(pod.securityContext, 'operator pod securityContext');
    assert.equal(podSc.runAsNonRoot, true);
    assert.equal(podSc.runAsUser, 65532);
    assert.equal(podSc.seccompProfile?.type, 'RuntimeDefault');
    assert.equal(
      (pod.volumes ?? []).some((v) => v.hostPath !== undefined),
      false,
    );
    const operator = container(pod, 'operator');
    assert.equal(operator.image, 'meshguard-operator:0.1.0');
    assert.deepEqual(operator.command, ['node', '/app/operator/dist/src/app/main.js']);
    assert.deepEqual(operator.args, ['--metrics-address=:8080', `--namespace=${NAMESPACE}`, '--leader-elect=true']);
    assert.equal(operator.workingDir, '/app');
    assert.deepEqual(operator.securityContext, {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      privileged: false,
      capabilities: { drop: ['ALL'] },
    });
    assert.deepEqual(operator.livenessProbe?.httpGet, { path: '/healthz', port: 'metrics' });
    assert.deepEqual(operator.readinessProbe?.httpGet, { path: '/readyz', port: 'metrics' });
    assert.deepEqual(
      (operator.ports ?? []).map((p) => [p.name, p.containerPort]),
      [['metrics', 8080]],
    );
  });

  it('no container anywhere is privileged or holds a capability beyond NET_ADMIN (agent) and CHOWN, FOWNER (its init)', (t) => {
    const all = objects(t);
    if (all === null) return;
    const allowed: Record<string, string[]> = { agent: ['NET_ADMIN'], 'state-dir': ['CHOWN', 'FOWNER'], operator: [] };
    for (const { name, spec } of podSpecs(all)) {
      for (const c of containers(spec)) {
        const what = `${name} container ${c.name}`;
        const sc = defined(c.securityContext, `${what} securityContext`);
        assert.equal(sc.privileged, false, what);
        const capabilities = defined(sc.capabilities, `${what} capabilities`);
        assert.deepEqual(capabilities.drop, ['ALL'], what);
        assert.deepEqual(capabilities.add ?? [], allowed[c.name], what);
        assert.equal(sc.readOnlyRootFilesystem, true, what);
      }
    }
  });

  it('RBAC: exactly the rules in expected-rbac.ts, no wildcard, no delete, nothing that can grant more', (t) => {
    const all = objects(t);
    if (all === null) return;
    assertRules(
      (only(all, 'ClusterRole', 'meshguard-operator') as V1ClusterRole).rules,
      OPERATOR_CLUSTER_RULES,
      'operator ClusterRole',
    );
    assertRules((only(all, 'Role', 'meshguard-operator') as V1Role).rules, OPERATOR_NAMESPACE_RULES, 'operator Role');
    assertRules(
      (only(all, 'Role', 'meshguard-operator-events') as V1Role).rules,
      OPERATOR_EVENT_RULES,
      'operator events Role',
    );
    assertRules(
      (only(all, 'ClusterRole', 'meshguard-agent') as V1ClusterRole).rules,
      AGENT_CLUSTER_RULES,
      'agent ClusterRole',
    );
    assertRules((only(all, 'Role', 'meshguard-agent') as V1Role).rules, AGENT_NAMESPACE_RULES, 'agent Role');

    for (const o of all.filter((x) => x.kind === 'Role' || x.kind === 'ClusterRole')) {
      for (const rule of (o.object as V1Role | V1ClusterRole).rules ?? []) {
        const what = `${o.kind}/${o.name} ${JSON.stringify(rule)}`;
        for (const verb of FORBIDDEN_VERBS) assert.ok(!rule.verbs.includes(verb), what);
        assert.ok(!(rule.resources ?? []).some((r) => r.includes('*')), what);
        assert.ok(!(rule.apiGroups ?? []).includes('*'), what);
        assert.equal(rule.nonResourceURLs, undefined, what);
        // Only the operator's own namespace Role (and bring-your-own key Roles) may touch Secrets.
        if ((rule.resources ?? []).includes('secrets'))
          assert.equal(`${o.kind}/${o.name}`, 'Role/meshguard-operator', what);
      }
    }
    // Each binding gives its role to its own ServiceAccount only.
    for (const o of all.filter((x) => x.kind === 'RoleBinding' || x.kind === 'ClusterRoleBinding')) {
      const binding = o.object as V1RoleBinding | V1ClusterRoleBinding;
      const sa = o.name.startsWith('meshguard-agent') ? 'meshguard-agent' : 'meshguard-operator';
      assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: sa, namespace: NAMESPACE }], o.name);
      assert.equal(binding.roleRef.name, o.name);
    }
  });

  it('admission policy: bound with Deny, matches the agent ServiceAccount, pins the org', (t) => {
    const all = objects(t);
    if (all === null) return;
    const policy = only(all, 'ValidatingAdmissionPolicy') as V1ValidatingAdmissionPolicy;
    const binding = only(all, 'ValidatingAdmissionPolicyBinding') as V1ValidatingAdmissionPolicyBinding;
    const spec = defined(policy.spec, 'policy spec');
    const bindingSpec = defined(binding.spec, 'binding spec');
    assert.equal(bindingSpec.policyName, policy.metadata?.name);
    assert.deepEqual(bindingSpec.validationActions, ['Deny']);
    assert.equal(spec.failurePolicy, 'Fail');
    assert.deepEqual(spec.matchConditions, [
      {
        name: 'meshguard-agent',
        expression: `request.userInfo.username == 'system:serviceaccount:${NAMESPACE}:meshguard-agent'`,
      },
    ]);
    assert.deepEqual(spec.matchConstraints?.resourceRules?.[0]?.resources, ['meshnodes', 'meshnodes/status']);
    assert.ok(spec.validations?.some((v) => v.expression.includes("variables.newSpec.org == 'acme'")));
  });

  it('CRDs: the files of crds/ with the keep policy added, and nothing else changed', async (t) => {
    const all = objects(t);
    if (all === null) return;
    const source = await loadCrdManifests(CRD_SOURCE_DIR);
    for (const crd of source) {
      const fromChart = only(all, 'CustomResourceDefinition', crd.name) as V1CustomResourceDefinition;
      const metadata = defined(fromChart.metadata, `${crd.name} metadata`);
      assert.equal(metadata.annotations?.['helm.sh/resource-policy'], 'keep');
      const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value));
      assert.deepEqual(fromChart.spec, plain(crd.definition.spec), `${crd.name}: spec differs from crds/`);
      // Only labels and annotations are added to the metadata; the source's labels stay.
      const source = defined(crd.definition.metadata, `${crd.name} source metadata`);
      assert.deepEqual(
        { ...(plain(metadata) as object), labels: undefined, annotations: undefined },
        { ...(plain(source) as object), labels: undefined, annotations: undefined },
      );
      for (const [k, v] of Object.entries(source.labels ?? {})) {
        assert.equal(metadata.labels?.[k], v, `${crd.name} label ${k}`);
      }
    }
  });

  it('Services select their pods by the metrics port; no ServiceMonitor unless enabled', (t) => {
    const all = objects(t);
    if (all === null) return;
    const operator = defined(
      (only(all, 'Service', 'meshguard-operator-metrics') as V1Service).spec,
      'operator Service',
    );
    assert.deepEqual(operator.selector, {
      'app.kubernetes.io/name': 'meshguard',
      'app.kubernetes.io/instance': 'meshguard',
      'app.kubernetes.io/component': 'operator',
    });
    assert.deepEqual(
      operator.ports?.map((p) => [p.name, p.port, p.targetPort]),
      [['metrics', 8080, 'metrics']],
    );
    const agent = defined((only(all, 'Service', 'meshguard-agent-metrics') as V1Service).spec, 'agent Service');
    assert.equal(agent.clusterIP, 'None');
    assert.equal(agent.selector?.['app.kubernetes.io/component'], 'agent');
    assert.deepEqual(
      agent.ports?.map((p) => [p.name, p.port]),
      [['metrics', 9821]],
    );
    assert.equal(all.filter((o) => o.kind === 'ServiceMonitor').length, 0);
  });
});

interface ServiceMonitor {
  readonly metadata: { readonly labels?: Record<string, string> };
  readonly spec: {
    readonly selector: { readonly matchLabels: Record<string, string> };
    readonly endpoints: readonly { readonly port: string; readonly interval: string }[];
  };
}

describe('helm template with other values', { timeout: 120_000 }, () => {
  it('agent flags follow the values: advertise, STUN servers, ports, state dir, user', (t) => {
    if (!helm(t)) return;
    const all = renderChart({
      org: 'globex',
      agent: {
        advertise: '[2001:db8::7]:51900',
        stun: ['stun1.example.net:3478', '192.0.2.10'],
        port: 51900,
        metrics: { bindAddress: '127.0.0.1', port: 9900 },
        stateDir: '/srv/meshguard',
        runAsUser: 4242,
        runAsGroup: 4343,
      },
    });
    const pod = (only(all, 'DaemonSet') as V1DaemonSet).spec?.template.spec;
    const agent = container(pod, 'agent');
    assert.deepEqual(agent.args, [
      '--node-name=$(NODE_NAME)',
      '--org=globex',
      `--namespace=${NAMESPACE}`,
      '--state-dir=/var/lib/meshguard',
      '--port=51900',
      '--metrics-address=127.0.0.1:9900',
      '--advertise=[2001:db8::7]:51900',
      '--stun=stun1.example.net:3478',
      '--stun=192.0.2.10',
    ]);
    assert.equal(agent.securityContext?.runAsUser, 4242);
    assert.deepEqual(pod?.volumes?.find((v) => v.name === 'state')?.hostPath?.path, '/srv/meshguard');
    assert.match(container(pod, 'state-dir').command?.[2] ?? '', /^chown 4242:4343 /);
    const policy = only(all, 'ValidatingAdmissionPolicy') as V1ValidatingAdmissionPolicy;
    assert.ok(policy.spec?.validations?.some((v) => v.expression.includes("variables.newSpec.org == 'globex'")));
  });

  it('image by digest; CRDs left out or not kept; ServiceMonitor when enabled; BYO org key Roles by name', (t) => {
    if (!helm(t)) return;
    const digest = `sha256:${'0123456789abcdef'.repeat(4)}`;
    const all = renderChart({
      org: 'acme',
      image: { tag: '9.9.9', pullPolicy: 'IfNotPresent' },
      agent: { image: { repository: 'registry.example/meshguard', digest } },
      crds: { install: false, keep: true },
      serviceMonitor: { enabled: true, interval: '15s', labels: { release: 'prom' } },
      operator: {
        image: { repository: 'registry.example/meshguard-operator' },
        orgKeySecrets: [
          { namespace: 'security', name: 'b-key' },
          { namespace: 'security', name: 'a-key' },
          { namespace: 'vault', name: 'c-key' },
        ],
      },
    });
    // The agent's image by digest, the operator's by the shared tag.
    for (const { name, spec } of podSpecs(all)) {
      const want = name.startsWith('DaemonSet')
        ? `registry.example/meshguard@${digest}`
        : 'registry.example/meshguard-operator:9.9.9';
      for (const c of containers(spec)) assert.equal(c.image, want, name);
    }
    assert.equal(all.filter((o) => o.kind === 'CustomResourceDefinition').length, 0);
    const monitor = only(all, 'ServiceMonitor') as ServiceMonitor;
    assert.equal(monitor.metadata.labels?.['release'], 'prom');
    assert.deepEqual(monitor.spec.selector.matchLabels, {
      'app.kubernetes.io/instance': 'meshguard',
      'app.kubernetes.io/name': 'meshguard',
      'meshguard.dev/metrics': 'true',
    });
    assert.deepEqual(
      monitor.spec.endpoints.map((e) => [e.port, e.interval]),
      [['metrics', '15s']],
    );
    const keyRoles = all.filter((o) => o.kind === 'Role' && o.name === 'meshguard-operator-org-keys');
    assert.deepEqual(
      keyRoles.map((o) => [o.namespace, (o.object as V1Role).rules]),
      [
        ['security', [{ apiGroups: [''], resources: ['secrets'], resourceNames: ['a-key', 'b-key'], verbs: ['get'] }]],
        ['vault', [{ apiGroups: [''], resources: ['secrets'], resourceNames: ['c-key'], verbs: ['get'] }]],
      ],
    );
    const unkept = renderChart({ org: 'acme', crds: { install: true, keep: false } });
    for (const o of unkept.filter((x) => x.kind === 'CustomResourceDefinition')) {
      assert.equal(
        (o.object as V1CustomResourceDefinition).metadata?.annotations?.['helm.sh/resource-policy'],
        undefined,
      );
    }
  });

  it('agent or operator alone; no admission policy without the agent', (t) => {
    if (!helm(t)) return;
    const operatorOnly = renderChart({ agent: { enabled: false } });
    assert.equal(operatorOnly.filter((o) => o.name.includes('agent')).length, 0, inventory(operatorOnly).join('\n'));
    const agentOnly = renderChart({ org: 'acme', operator: { enabled: false } });
    assert.equal(agentOnly.filter((o) => o.name.includes('operator')).length, 0, inventory(agentOnly).join('\n'));
    assert.equal(agentOnly.filter((o) => o.kind === 'ValidatingAdmissionPolicy').length, 1);
  });
});

/** Values the schema must refuse, with a part of helm's message that names what is wrong. */
const INVALID_VALUES: readonly { readonly name: string; readonly values: Values; readonly message: RegExp }[] = [
  { name: 'org not a DNS label', values: { org: 'Acme_Corp' }, message: /\/org.*does not match pattern/ },
  {
    name: 'unknown top-level key',
    values: { org: 'acme', orgs: ['a'] },
    message: /additional properties 'orgs' not allowed/,
  },
  {
    name: 'misspelt nested key',
    values: { org: 'acme', agent: { hostnetwork: false } },
    message: /\/agent.*additional properties 'hostnetwork' not allowed/,
  },
  { name: 'agent as root', values: { org: 'acme', agent: { runAsUser: 0 } }, message: /\/agent\/runAsUser.*minimum/ },
  { name: 'port out of range', values: { org: 'acme', agent: { port: 70000 } }, message: /\/agent\/port.*maximum/ },
  {
    name: 'port as a string',
    values: { org: 'acme', agent: { port: '51821' } },
    message: /\/agent\/port.*got string, want integer/,
  },
  {
    name: 'pull policy',
    values: { org: 'acme', image: { pullPolicy: 'Sometimes' } },
    message: /\/image\/pullPolicy.*must be one of/,
  },
  {
    name: 'digest without algorithm',
    values: { org: 'acme', agent: { image: { digest: 'abc' } } },
    message: /\/agent\/image\/digest.*does not match pattern/,
  },
  {
    name: 'state dir relative',
    values: { org: 'acme', agent: { stateDir: 'var/lib/meshguard' } },
    message: /\/agent\/stateDir/,
  },
  { name: 'state dir the root', values: { org: 'acme', agent: { stateDir: '/' } }, message: /\/agent\/stateDir/ },
  {
    name: 'state dir with ..',
    values: { org: 'acme', agent: { stateDir: '/var/lib/../../etc' } },
    message: /\/agent\/stateDir/,
  },
  {
    name: 'advertise a hostname',
    values: { org: 'acme', agent: { advertise: 'node.example.com' } },
    message: /\/agent\/advertise/,
  },
  {
    name: 'STUN server with a space',
    values: { org: 'acme', agent: { stun: ['stun example'] } },
    message: /\/agent\/stun\/0.*does not match pattern/,
  },
  {
    name: 'toleration operator',
    values: { org: 'acme', agent: { tolerations: [{ operator: 'Any' }] } },
    message: /\/agent\/tolerations\/0\/operator.*must be one of/,
  },
  {
    name: 'memory quantity',
    values: { org: 'acme', agent: { resources: { limits: { memory: 'lots' } } } },
    message: /\/agent\/resources\/limits\/memory/,
  },
  {
    name: 'BYO key without namespace',
    values: { org: 'acme', operator: { orgKeySecrets: [{ name: 'k' }] } },
    message: /\/operator\/orgKeySecrets\/0.*missing property 'namespace'/,
  },
  {
    name: 'ServiceMonitor interval',
    values: { org: 'acme', serviceMonitor: { interval: 'soon' } },
    message: /\/serviceMonitor\/interval.*does not match pattern/,
  },
  {
    name: 'empty command',
    values: { org: 'acme', operator: { command: [] } },
    message: /\/operator\/command.*minItems/,
  },
  {
    name: 'replicas negative',
    values: { org: 'acme', operator: { replicas: -1 } },
    message: /\/operator\/replicas.*minimum/,
  },
];

describe('values.schema.json', { timeout: 180_000 }, () => {
  it('refuses bad values in helm template and helm lint, naming the value', (t) => {
    if (!helm(t)) return;
    for (const { name, values, message } of INVALID_VALUES) {
      const template = helmTemplate(values);
      assert.notEqual(template.status, 0, `${name}: helm template accepted ${JSON.stringify(values)}`);
      assert.match(
        template.stderr,
        /values don't meet the specifications of the schema/,
        `${name}: ${template.stderr}`,
      );
      assert.match(template.stderr, message, `${name}: ${template.stderr}`);
    }
    // lint uses the same schema; one case shows that it fails too.
    const lint = helmLint(INVALID_VALUES[0]!.values);
    assert.notEqual(lint.status, 0);
    assert.match(lint.stdout + lint.stderr, /\/org.*does not match pattern/);
  });
});
