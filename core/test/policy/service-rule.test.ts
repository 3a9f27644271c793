import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { PolicyError } from '../../src/errors.js';
import {
  formatRule,
  MAX_SERVICE_RULES,
  parseServicePort,
  parseServiceRule,
  parseServiceRuleFile,
  serviceRuleFromTokens,
  serviceRuleMatches,
  SERVICE_POLICY_FILE_MAX_BYTES,
  type ServiceRule,
} from '../../src/policy/index.js';

function rejects(text: string, message: RegExp): void {
  assert.throws(
    () => parseServiceRuleFile(text),
    (err: unknown) => err instanceof PolicyError && message.test(err.message),
  );
}

describe('parseServiceRule', () => {
  it('parses single ports, ranges and "all"', () => {
    assert.deepEqual(parseServiceRule('allow tcp 22'), { action: 'allow', proto: 'tcp', ports: { low: 22, high: 22 } });
    assert.deepEqual(parseServiceRule('deny udp 1000-2000'), {
      action: 'deny',
      proto: 'udp',
      ports: { low: 1000, high: 2000 },
    });
    assert.deepEqual(parseServiceRule('allow all'), { action: 'allow', proto: 'all', ports: 'all' });
    assert.deepEqual(parseServiceRule('deny all'), { action: 'deny', proto: 'all', ports: 'all' });
    assert.deepEqual(parseServiceRule('allow tcp all'), { action: 'allow', proto: 'tcp', ports: 'all' });
    assert.deepEqual(parseServiceRule('deny all 53'), { action: 'deny', proto: 'all', ports: { low: 53, high: 53 } });
  });

  it('treats port 0 and 0-0 as all ports, but keeps 0-N as a range', () => {
    assert.equal(parseServiceRule('allow tcp 0').ports, 'all');
    assert.equal(parseServiceRule('allow tcp 0-0').ports, 'all');
    assert.deepEqual(parseServiceRule('allow tcp 0-10').ports, { low: 0, high: 10 });
  });

  it('accepts the u16 bounds and refuses beyond them', () => {
    assert.deepEqual(parseServiceRule('allow udp 65535').ports, { low: 65535, high: 65535 });
    assert.deepEqual(parseServiceRule('allow udp 1-65535').ports, { low: 1, high: 65535 });
    assert.deepEqual(parseServiceRule('allow udp 7-7').ports, { low: 7, high: 7 });
    for (const bad of ['65536', '1-65536', '100000', '99999-99999']) {
      assert.throws(() => parseServiceRule(`allow udp ${bad}`), PolicyError, bad);
    }
  });

  it('refuses a descending range', () => {
    assert.throws(() => parseServiceRule('allow tcp 2000-1000'), /2000 > 1000/);
  });

  it('refuses signs, junk and non-decimal forms', () => {
    for (const bad of ['+22', '-22', '22-', '-', '1--2', '0x16', '1e3', '22a', '2_2', '22.0', '', '１２', '1-2-3']) {
      assert.throws(() => serviceRuleFromTokens(['allow', 'tcp', bad]), PolicyError, JSON.stringify(bad));
    }
  });

  it('accepts tabs and runs of blanks between tokens', () => {
    assert.deepEqual(parseServiceRule('\tallow\t \ttcp   443 \t'), parseServiceRule('allow tcp 443'));
  });

  it('refuses bad actions, protocols and token counts', () => {
    assert.throws(() => parseServiceRule('permit tcp 22'), /invalid action/);
    assert.throws(() => parseServiceRule('Allow tcp 22'), /invalid action/);
    assert.throws(() => parseServiceRule('allow icmp 22'), /invalid protocol/);
    assert.throws(() => parseServiceRule('allow tcp'), /needs ports/);
    assert.throws(() => parseServiceRule('allow'), /missing/);
    assert.throws(() => parseServiceRule('allow tcp 22 23'), /unexpected "23"/);
    assert.throws(() => parseServiceRule('allow all all all'), /unexpected/);
    assert.throws(() => parseServiceRule(''), /empty/);
  });

  it('does not split a token containing other whitespace', () => {
    assert.throws(() => serviceRuleFromTokens(['allow', 'tcp 22']), PolicyError);
    assert.throws(() => serviceRuleFromTokens(['allow', 'tcp', '22\n']), PolicyError);
  });
});

describe('parseServiceRuleFile', () => {
  it('skips blank and comment lines and records line numbers', () => {
    const rules = parseServiceRuleFile('# ssh\n\n  allow tcp 22\r\n   # web\n\tdeny tcp 80-81\n');
    assert.deepEqual(
      rules.map((r) => [formatRule(r), r.line]),
      [
        ['allow tcp 22', 3],
        ['deny tcp 80-81', 5],
      ],
    );
  });

  it('accepts an empty file and a file without a final newline', () => {
    assert.deepEqual(parseServiceRuleFile(''), []);
    assert.equal(parseServiceRuleFile('allow all').length, 1);
  });

  it('names the first bad line', () => {
    rejects('allow tcp 22\n# fine\nallow tcp 99999\nbogus\n', /^line 3: invalid port "99999"/);
    rejects('allow tcp 22 # inline comments are not part of the grammar\n', /^line 1: unexpected "#"/);
  });

  it('allows 64 rules and refuses 65', () => {
    const line = 'allow tcp 22\n';
    assert.equal(parseServiceRuleFile(line.repeat(MAX_SERVICE_RULES)).length, MAX_SERVICE_RULES);
    rejects(line.repeat(MAX_SERVICE_RULES + 1), /^line 65: more than 64 rules/);
    // Comments do not count toward the limit.
    assert.equal(parseServiceRuleFile(`# c\n${line}`.repeat(MAX_SERVICE_RULES)).length, MAX_SERVICE_RULES);
  });

  it('refuses content over 4096 bytes, counting bytes not characters', () => {
    const exact = '#'.repeat(SERVICE_POLICY_FILE_MAX_BYTES - 1) + '\n';
    assert.deepEqual(parseServiceRuleFile(exact), []);
    rejects(exact + 'x', /larger than 4096 bytes/);
    const multibyte = `# ${'é'.repeat(2048)}`; // 2 + 4096 bytes, 2050 characters
    rejects(multibyte, /larger than 4096 bytes/);
    assert.throws(() => parseServiceRuleFile(new Uint8Array(SERVICE_POLICY_FILE_MAX_BYTES + 1)), PolicyError);
  });

  it('reads bytes as UTF-8 and tolerates any bytes inside comments', () => {
    const bytes = Uint8Array.from([...Buffer.from('# \xff\xfe'), 0xff, 0x0a, ...Buffer.from('allow udp 53\n')]);
    assert.equal(parseServiceRuleFile(bytes).length, 1);
  });
});

describe('formatRule', () => {
  it('gives canonical lines', () => {
    const cases: Array<[ServiceRule, string]> = [
      [{ action: 'allow', proto: 'tcp', ports: { low: 22, high: 22 } }, 'allow tcp 22'],
      [{ action: 'deny', proto: 'udp', ports: { low: 1000, high: 2000 } }, 'deny udp 1000-2000'],
      [{ action: 'allow', proto: 'all', ports: 'all' }, 'allow all'],
      [{ action: 'deny', proto: 'tcp', ports: 'all' }, 'deny tcp all'],
      [{ action: 'allow', proto: 'all', ports: { low: 0, high: 5 } }, 'allow all 0-5'],
    ];
    for (const [rule, line] of cases) assert.equal(formatRule(rule), line);
  });
});

describe('serviceRuleMatches', () => {
  it('matches protocol and inclusive range', () => {
    const rule = parseServiceRule('allow tcp 100-200');
    assert.equal(serviceRuleMatches(rule, 'tcp', 100), true);
    assert.equal(serviceRuleMatches(rule, 'tcp', 200), true);
    assert.equal(serviceRuleMatches(rule, 'tcp', 99), false);
    assert.equal(serviceRuleMatches(rule, 'tcp', 201), false);
    assert.equal(serviceRuleMatches(rule, 'udp', 150), false);
    assert.equal(serviceRuleMatches(parseServiceRule('deny all 53'), 'udp', 53), true);
    assert.equal(serviceRuleMatches(parseServiceRule('deny all'), 'tcp', 0), true);
  });
});

describe('parseServicePort', () => {
  it('parses 0..65535 only', () => {
    assert.equal(parseServicePort('0'), 0);
    assert.equal(parseServicePort('65535'), 65535);
    assert.throws(() => parseServicePort('65536'), PolicyError);
    assert.throws(() => parseServicePort('+1'), PolicyError);
  });
});

// fc.record builds null-prototype objects; copy them so deepEqual compares like with like.
const ruleArb: fc.Arbitrary<ServiceRule> = fc
  .record({
    action: fc.constantFrom('allow' as const, 'deny' as const),
    proto: fc.constantFrom('tcp' as const, 'udp' as const, 'all' as const),
    ports: fc.oneof(
      fc.constant('all' as const),
      fc
        .tuple(fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 0, max: 65535 }))
        .map(([a, b]) => ({ low: Math.min(a, b), high: Math.max(a, b) }))
        .filter((r) => r.high !== 0),
    ),
  })
  .map(({ action, proto, ports }) => ({ action, proto, ports: ports === 'all' ? ports : { ...ports } }));

describe('service rule properties', () => {
  it('any text parses to rules or throws a PolicyError, never anything else', () => {
    const lineArb = fc.oneof(
      fc.string(),
      fc
        .array(fc.constantFrom('allow', 'deny', 'all', 'tcp', 'udp', '22', '0', '1-2', '65536', '#', '\t', ' ', '-'), {
          maxLength: 5,
        })
        .map((t) => t.join(' ')),
    );
    fc.assert(
      fc.property(fc.array(lineArb, { maxLength: 80 }), (lines) => {
        try {
          const rules = parseServiceRuleFile(lines.join('\n'));
          assert.ok(rules.length <= MAX_SERVICE_RULES);
        } catch (err) {
          if (!(err instanceof PolicyError)) throw err;
          assert.match(err.message, /^(line \d+: |larger than)/);
        }
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), (bytes) => {
        try {
          parseServiceRuleFile(bytes);
        } catch (err) {
          if (!(err instanceof PolicyError)) throw err;
        }
      }),
      { numRuns: 200 },
    );
  });

  it('formatRule round-trips through the parser', () => {
    fc.assert(
      fc.property(fc.array(ruleArb, { maxLength: MAX_SERVICE_RULES }), (rules) => {
        const text = rules.map((r) => `${formatRule(r)}\n`).join('');
        const parsed = parseServiceRuleFile(text).map(({ action, proto, ports }) => ({ action, proto, ports }));
        assert.deepEqual(parsed, rules);
      }),
    );
  });
});
