import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { keyPairFromSeed } from '../../src/crypto/ed25519.js';
import { toHex } from '../../src/encoding/hex.js';
import {
  evaluateFlow,
  evaluatePolicy,
  NO_SERVICE_POLICY,
  parseServiceRuleFile,
  summarizeServicePolicy,
  type ServiceDecision,
  type ServiceDefault,
  type ServicePolicy,
  type ServicePolicyFile,
} from '../../src/policy/index.js';

const key = (n: number): Uint8Array => keyPairFromSeed(new Uint8Array(32).fill(n)).publicKey;
const ALICE = key(1);
const BOB = key(2);
const ORG = key(3);
const OTHER_ORG = key(4);

function rules(source: string, text: string): ServicePolicyFile {
  return { kind: 'rules', source, rules: parseServiceRuleFile(text) };
}

function broken(source: string): ServicePolicyFile {
  return { kind: 'invalid', source, error: 'line 1: invalid action "permit"' };
}

interface Parts {
  readonly defaultAction?: ServiceDefault;
  readonly global?: ServicePolicyFile;
  readonly peers?: ReadonlyArray<readonly [Uint8Array, ServicePolicyFile]>;
  readonly orgs?: ReadonlyArray<readonly [Uint8Array, ServicePolicyFile]>;
}

function policy(p: Parts): ServicePolicy {
  return {
    kind: 'configured',
    defaultAction: p.defaultAction ?? { kind: 'action', action: 'allow', explicit: false },
    global: p.global,
    peers: new Map((p.peers ?? []).map(([k, f]) => [toHex(k), f])),
    orgs: new Map((p.orgs ?? []).map(([k, f]) => [toHex(k), f])),
  };
}

const DENY: ServiceDefault = { kind: 'action', action: 'deny', explicit: true };
const ALLOW: ServiceDefault = { kind: 'action', action: 'allow', explicit: true };

/** Minimal IPv4 packets: 20-byte header + 4 bytes of ports. */
function v4(protocol: number, port = 0): Uint8Array {
  const p = new Uint8Array(28);
  p[0] = 0x45;
  p[9] = protocol;
  p[22] = port >> 8;
  p[23] = port & 0xff;
  return p;
}
const tcp = (port: number): Uint8Array => v4(6, port);
const udp = (port: number): Uint8Array => v4(17, port);

function decided(d: ServiceDecision, action: 'allow' | 'deny', reason: ServiceDecision['reason']): void {
  assert.equal(d.action, action, d.detail);
  assert.equal(d.reason, reason, d.detail);
}

describe('evaluatePolicy', () => {
  it('allows everything, even malformed packets, when there is no services/ directory', () => {
    decided(evaluatePolicy(NO_SERVICE_POLICY, tcp(22), ALICE, undefined), 'allow', 'no-policy');
    decided(evaluatePolicy(NO_SERVICE_POLICY, new Uint8Array(3), ALICE, undefined), 'allow', 'no-policy');
  });

  it('always allows ICMP and denies malformed packets', () => {
    const p = policy({ defaultAction: DENY, peers: [[ALICE, rules('p', 'deny all\n')]], global: broken('g') });
    decided(evaluatePolicy(p, v4(1), ALICE, undefined), 'allow', 'icmp');
    decided(evaluatePolicy(p, new Uint8Array([0x45, 0, 0]), ALICE, undefined), 'deny', 'malformed');
    const open = policy({ defaultAction: ALLOW, global: rules('g', 'allow all\n') });
    decided(evaluatePolicy(open, tcp(22).subarray(0, 22), ALICE, undefined), 'deny', 'malformed');
  });

  it('gives non-TCP/UDP packets the default without consulting rule files', () => {
    const p = (d: ServiceDefault): ServicePolicy =>
      policy({ defaultAction: d, global: broken('services/global.policy'), peers: [[ALICE, rules('p', 'allow all')]] });
    decided(evaluatePolicy(p(ALLOW), v4(47), ALICE, undefined), 'allow', 'default');
    decided(evaluatePolicy(p(DENY), v4(47), ALICE, undefined), 'deny', 'default');
  });

  it('goes peer → org → global → default, falling through when a level has no match', () => {
    const p = policy({
      defaultAction: DENY,
      peers: [[ALICE, rules('services/peer/alice.policy', 'allow tcp 22\n')]],
      orgs: [[ORG, rules('services/org/acme.policy', 'deny tcp 22\nallow tcp 80\n')]],
      global: rules('services/global.policy', 'deny tcp 80\nallow udp 53\n'),
    });
    decided(evaluatePolicy(p, tcp(22), ALICE, ORG), 'allow', 'peer-rule');
    decided(evaluatePolicy(p, tcp(22), BOB, ORG), 'deny', 'org-rule');
    decided(evaluatePolicy(p, tcp(80), ALICE, ORG), 'allow', 'org-rule');
    decided(evaluatePolicy(p, tcp(80), ALICE, undefined), 'deny', 'global-rule');
    decided(evaluatePolicy(p, udp(53), ALICE, ORG), 'allow', 'global-rule');
    decided(evaluatePolicy(p, udp(54), ALICE, ORG), 'deny', 'default');
    // Another org's policy never applies.
    decided(evaluatePolicy(p, tcp(22), BOB, OTHER_ORG), 'deny', 'default');
  });

  it('lets the first matching rule of a file decide', () => {
    const p = policy({ global: rules('g', 'deny tcp 22\nallow tcp all\ndeny all\n') });
    decided(evaluatePolicy(p, tcp(22), ALICE, undefined), 'deny', 'global-rule');
    decided(evaluatePolicy(p, tcp(23), ALICE, undefined), 'allow', 'global-rule');
    decided(evaluatePolicy(p, udp(23), ALICE, undefined), 'deny', 'global-rule');
  });

  it('names the deciding file, line and rule', () => {
    const p = policy({ global: rules('services/global.policy', '# c\nallow tcp 20-30\n') });
    const d = evaluatePolicy(p, tcp(25), ALICE, undefined);
    assert.match(d.detail, /"allow tcp 20-30" \(services\/global\.policy line 2\)/);
  });

  it('denies at an invalid level that is consulted, instead of ignoring the file', () => {
    const p = policy({
      defaultAction: ALLOW,
      peers: [[ALICE, broken('services/peer/alice.policy')]],
      orgs: [[ORG, broken('services/org/acme.policy')]],
      global: rules('g', 'allow all\n'),
    });
    const a = evaluatePolicy(p, tcp(22), ALICE, ORG);
    decided(a, 'deny', 'invalid-policy');
    assert.match(a.detail, /services\/peer\/alice\.policy is invalid: line 1/);
    const b = evaluatePolicy(p, tcp(22), BOB, ORG);
    decided(b, 'deny', 'invalid-policy');
    assert.match(b.detail, /services\/org\/acme\.policy/);
    // Not consulted: a different peer without an org.
    decided(evaluatePolicy(p, tcp(22), BOB, undefined), 'allow', 'global-rule');
    decided(evaluatePolicy(p, tcp(22), BOB, OTHER_ORG), 'allow', 'global-rule');
  });

  it('denies at an invalid global policy only for flows that reach it', () => {
    const p = policy({ peers: [[ALICE, rules('p', 'allow tcp 22\n')]], global: broken('services/global.policy') });
    decided(evaluatePolicy(p, tcp(22), ALICE, undefined), 'allow', 'peer-rule');
    decided(evaluatePolicy(p, tcp(23), ALICE, undefined), 'deny', 'invalid-policy');
  });

  it('denies what reaches an invalid default', () => {
    const d: ServiceDefault = { kind: 'invalid', source: 'services/default', error: 'expected "allow" or "deny"' };
    const p = policy({ defaultAction: d, global: rules('g', 'allow tcp 22\n') });
    decided(evaluatePolicy(p, tcp(22), ALICE, undefined), 'allow', 'global-rule');
    decided(evaluatePolicy(p, tcp(23), ALICE, undefined), 'deny', 'invalid-policy');
    decided(evaluatePolicy(p, v4(47), ALICE, undefined), 'deny', 'invalid-policy');
    decided(evaluatePolicy(p, v4(1), ALICE, undefined), 'allow', 'icmp');
  });

  it('accepts an already classified packet', () => {
    const p = policy({ defaultAction: DENY, global: rules('g', 'allow udp 53\n') });
    decided(evaluatePolicy(p, { kind: 'udp', port: 53, family: 6 }, ALICE, undefined), 'allow', 'global-rule');
    decided(evaluatePolicy(p, { kind: 'malformed', reason: 'x' }, ALICE, undefined), 'deny', 'malformed');
  });
});

describe('evaluateFlow', () => {
  it('evaluates without a packet and skips the levels not given', () => {
    const p = policy({
      defaultAction: DENY,
      peers: [[ALICE, rules('p', 'allow tcp 22\n')]],
      orgs: [[ORG, rules('o', 'allow tcp 23\n')]],
    });
    decided(evaluateFlow(p, { proto: 'tcp', port: 22 }, ALICE, undefined), 'allow', 'peer-rule');
    decided(evaluateFlow(p, { proto: 'tcp', port: 22 }, undefined, ORG), 'deny', 'default');
    decided(evaluateFlow(p, { proto: 'tcp', port: 23 }, undefined, ORG), 'allow', 'org-rule');
    decided(evaluateFlow(NO_SERVICE_POLICY, { proto: 'udp', port: 1 }, undefined, undefined), 'allow', 'no-policy');
  });
});

describe('summarizeServicePolicy', () => {
  it('describes each state in one line', () => {
    assert.match(summarizeServicePolicy(NO_SERVICE_POLICY), /^none/);
    assert.equal(
      summarizeServicePolicy(policy({ defaultAction: DENY, peers: [[ALICE, rules('p', '')]] })),
      'default deny, no global policy, 1 peer and 0 org policies',
    );
    assert.match(summarizeServicePolicy(policy({ global: broken('g') })), /global policy INVALID/);
  });
});

describe('evaluatePolicy properties', () => {
  const fileArb: fc.Arbitrary<ServicePolicyFile> = fc.oneof(
    fc.constant(broken('x')),
    fc
      .array(
        fc.tuple(
          fc.constantFrom('allow', 'deny'),
          fc.constantFrom('tcp', 'udp', 'all'),
          fc.constantFrom('all', '22', '0', '1-1024', '53', '65535'),
        ),
        { maxLength: 10 },
      )
      .map((rs) => rules('f', rs.map((r) => r.join(' ')).join('\n'))),
  );
  const keyArb = fc.constantFrom(ALICE, BOB, ORG, OTHER_ORG);
  const INVALID_DEFAULT: ServiceDefault = { kind: 'invalid', source: 'services/default', error: 'bad' };
  const defaultArb: fc.Arbitrary<ServiceDefault> = fc.constantFrom(ALLOW, DENY, INVALID_DEFAULT);
  const policyArb: fc.Arbitrary<ServicePolicy> = fc.oneof(
    fc.constant(NO_SERVICE_POLICY),
    fc
      .record({
        defaultAction: defaultArb,
        global: fc.option(fileArb, { nil: undefined }),
        peers: fc.array(fc.tuple(keyArb, fileArb), { maxLength: 3 }),
        orgs: fc.array(fc.tuple(keyArb, fileArb), { maxLength: 3 }),
      })
      .map(({ global, ...rest }) => policy(global === undefined ? rest : { ...rest, global })),
  );

  it('never throws and always gives a known action and reason', () => {
    const reasons = ['icmp', 'peer-rule', 'org-rule', 'global-rule', 'default', 'invalid-policy', 'malformed'];
    fc.assert(
      fc.property(
        policyArb,
        fc.oneof(
          fc.uint8Array({ maxLength: 64 }),
          fc.tuple(fc.constantFrom(1, 6, 17, 47), fc.integer({ min: 0, max: 65535 })).map(([pr, po]) => v4(pr, po)),
        ),
        fc.oneof(keyArb, fc.uint8Array({ maxLength: 40 })),
        fc.option(keyArb, { nil: undefined }),
        (p, packet, sender, org) => {
          const d = evaluatePolicy(p, packet, sender, org);
          assert.ok(p.kind === 'none' ? d.reason === 'no-policy' : reasons.includes(d.reason));
          if (d.reason === 'invalid-policy' || d.reason === 'malformed') assert.equal(d.action, 'deny');
        },
      ),
      { numRuns: 2000 },
    );
  });
});
