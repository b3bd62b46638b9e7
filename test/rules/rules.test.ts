import { describe, expect, it } from 'vitest';
import {
  assertPatternFits,
  compileRulePattern,
  MAX_PATTERN_LENGTH,
  PatternTooLargeError,
  patternJson,
} from '../../shared/rules/compile.ts';
import { matchEventPattern } from '../../shared/rules/matcher.ts';
import {
  parseRulesText,
  RulesConfigError,
  type SyncRuleFilter,
  type SyncRuleSpec,
  validateRules,
} from '../../shared/rules/model.ts';
import { customer, customerEvent } from './customer-events.ts';
import { exampleRules as loadExampleRules } from './example-rules.ts';

const { rules: exampleRules, named: byName } = loadExampleRules('sync-rules.yaml');
const matches = (rule: SyncRuleSpec, event: unknown) =>
  matchEventPattern(compileRulePattern(rule), event).matched;

function problemsOf(document: unknown): readonly string[] {
  try {
    validateRules(document, 'rules.yaml');
  } catch (error) {
    if (error instanceof RulesConfigError) return error.problems;
    throw error;
  }
  return [];
}

const webhookTarget = {
  type: 'webhook',
  url: 'https://crm.example.com/hook',
  secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:crm-AbCdEf',
};

describe('rule compilation', () => {
  it('compiles change types, changed fields and before/after conditions to an EventBridge pattern', () => {
    expect(compileRulePattern(byName('customer-deactivated'))).toEqual({
      source: ['nutcache.customers'],
      'detail-type': ['Customer Updated'],
      detail: { changedFields: ['status'], before: { status: [0] }, after: { status: [1] } },
    });
  });

  it('compiles every operator to its EventBridge form', () => {
    const [rule] = validateRules({
      rules: [
        {
          name: 'all-operators',
          changeTypes: ['created', 'updated'],
          organizationGuids: ['org-1'],
          after: {
            email: [{ prefix: 'billing@' }, { equals: null }],
            status: { anythingBut: [1, 2] },
            name: { anythingBut: { prefix: 'TEST' } },
            notes: { exists: false },
            tax: { numeric: { gte: 0, lt: 20.5 } },
            country: { equals: [40, 41] },
          },
          target: webhookTarget,
        },
      ],
    });
    expect(rule && compileRulePattern(rule, { eventSource: 'acme.customers' })).toEqual({
      source: ['acme.customers'],
      'detail-type': ['Customer Created', 'Customer Updated'],
      detail: {
        organizationGuid: ['org-1'],
        after: {
          email: [{ prefix: 'billing@' }, null],
          status: [{ 'anything-but': [1, 2] }],
          name: [{ 'anything-but': { prefix: 'TEST' } }],
          notes: [{ exists: false }],
          tax: [{ numeric: ['>=', 0, '<', 20.5] }],
          country: [40, 41],
        },
      },
    });
  });

  it('leaves snapshots out unless asked for (a resync would otherwise flood the CRM)', () => {
    const [rule] = validateRules([{ name: 'any-change', target: webhookTarget }]);
    expect(rule && compileRulePattern(rule)['detail-type']).toEqual([
      'Customer Created',
      'Customer Updated',
      'Customer Deleted',
    ]);
  });

  it(`rejects a pattern over ${MAX_PATTERN_LENGTH} characters with the rule name and its length`, () => {
    const many = Array.from({ length: 200 }, (_, i) => `customer-${i}@example.com`);
    const [rule] = validateRules([{ name: 'too-big', after: { email: many }, target: webhookTarget }]);
    if (!rule) throw new Error('no rule');
    const pattern = compileRulePattern(rule);
    expect(() => assertPatternFits(rule.name, pattern)).toThrow(PatternTooLargeError);
    expect(() => assertPatternFits(rule.name, pattern)).toThrow(
      new RegExp(`rule 'too-big': its event pattern is ${patternJson(pattern).length} characters`),
    );
    for (const example of exampleRules)
      expect(() => assertPatternFits(example.name, compileRulePattern(example))).not.toThrow();
  });
});

describe('example rules against customer events', () => {
  const active = customer({ status: 0 });
  const inactive = customer({ status: 1 });

  it('customer-deactivated matches status 0 → 1 only', () => {
    const rule = byName('customer-deactivated');
    expect(matches(rule, customerEvent('updated', active, inactive))).toBe(true);
    expect(matches(rule, customerEvent('updated', inactive, active))).toBe(false);
    expect(matches(rule, customerEvent('updated', active, customer({ email: 'new@acme.example' })))).toBe(
      false,
    );
    expect(matches(rule, customerEvent('created', null, inactive))).toBe(false);
  });

  it('contact-details-changed matches an e-mail or a name change, not a phone change', () => {
    const rule = byName('contact-details-changed');
    expect(matches(rule, customerEvent('updated', active, customer({ email: 'new@acme.example' })))).toBe(
      true,
    );
    expect(matches(rule, customerEvent('updated', active, customer({ name: 'Acme SA' })))).toBe(true);
    expect(matches(rule, customerEvent('updated', active, customer({ phone: '+33 1 23' })))).toBe(false);
  });

  it('new-customer-in-country-40 matches an active customer created in country 40 only', () => {
    const rule = byName('new-customer-in-country-40');
    expect(matches(rule, customerEvent('created', null, customer({ country: 40 })))).toBe(true);
    expect(matches(rule, customerEvent('created', null, customer({ country: 2 })))).toBe(false);
    expect(matches(rule, customerEvent('created', null, customer({ country: 40, status: 1 })))).toBe(false);
    expect(matches(rule, customerEvent('updated', active, customer({ country: 40, name: 'x' })))).toBe(false);
  });
});

describe('truncated events (docs/sync-rules.md, "Limitation: truncated events")', () => {
  // What shared/publish/serialize.ts reduceOversizedEvent publishes for an event over the bus limit.
  const truncate = (event: ReturnType<typeof customerEvent>) => ({
    ...event,
    detail: { ...(event.detail as object), before: null, after: null, truncated: true },
  });
  const onFilter = (rule: SyncRuleFilter, event: unknown) =>
    matchEventPattern(compileRulePattern(rule), event).matched;
  const deactivated = truncate(customerEvent('updated', customer({ status: 0 }), customer({ status: 1 })));
  const emailChanged = truncate(
    customerEvent('updated', customer(), customer({ email: 'new@acme.example' })),
  );

  it('a rule conditioned on before/after values does not match a truncated event', () => {
    expect(matches(byName('customer-deactivated'), deactivated)).toBe(false);
  });

  it('a rule on changedFields only still matches it', () => {
    expect(matches(byName('contact-details-changed'), emailChanged)).toBe(true);
    expect(onFilter({ name: 'status-changed', changedFields: ['status'] }, deactivated)).toBe(true);
  });

  it('an exists: false condition on before/after matches it whatever the real value', () => {
    expect(onFilter({ name: 'no-email', after: { email: { exists: false } } }, emailChanged)).toBe(true);
  });
});

describe('rules file validation', () => {
  it('reads the same rules from JSON and YAML', () => {
    const json = JSON.stringify({ rules: [{ name: 'r1', changedFields: ['email'], target: webhookTarget }] });
    const yaml = `rules:\n  - name: r1\n    changedFields: [email]\n    target:\n      type: webhook\n      url: ${webhookTarget.url}\n      secretArn: ${webhookTarget.secretArn}\n`;
    expect(parseRulesText(json, 'rules.json')).toEqual(parseRulesText(yaml, 'rules.yaml'));
  });

  it('names the rule and the field at fault', () => {
    expect(
      problemsOf({
        rules: [
          { name: 'good', target: webhookTarget },
          { name: 'bad-operator', after: { status: { greaterThan: 1 } }, target: webhookTarget },
          { name: 'bad-field', after: { Email: 'x' }, target: webhookTarget },
          { name: 'bad-range', before: { tax: { numeric: { gt: 10, lt: 5 } } }, target: webhookTarget },
          { name: 'http-webhook', target: { ...webhookTarget, url: 'http://crm.example.com/hook' } },
          { name: 'bad change type', changeTypes: ['modified'], target: webhookTarget },
        ],
      }),
    ).toEqual([
      "rule 'bad-operator' (rules[1]): after.status: unknown operator 'greaterThan' (expected one of equals, anythingBut, prefix, suffix, equalsIgnoreCase, wildcard, cidr, exists, numeric)",
      expect.stringMatching(/^rule 'bad-field' \(rules\[2\]\): after\.Email: field names are lower-case/),
      "rule 'bad-range' (rules[3]): before.tax.numeric: empty range: lower bound 10 is above upper bound 5",
      "rule 'http-webhook' (rules[4]): target.url: must be an https:// URL",
      expect.stringMatching(/^rule 'bad change type' \(rules\[5\]\): name: use 1 to 64 letters/),
      expect.stringMatching(/^rule 'bad change type' \(rules\[5\]\): changeTypes\[0\]: /),
    ]);
  });

  it('rejects duplicate rule names, unknown keys and numeric bounds outside EventBridge range', () => {
    expect(
      problemsOf([
        { name: 'dup', target: webhookTarget },
        { name: 'dup', target: webhookTarget },
        { name: 'typo', changedField: ['email'], target: webhookTarget },
        { name: 'huge', after: { id: { numeric: { gt: 2e9 } } }, target: webhookTarget },
      ]),
    ).toEqual([
      "rule 'dup' (rules[1]): name: duplicate of rules[0]",
      expect.stringMatching(/^rule 'typo' \(rules\[2\]\): .*changedField/),
      expect.stringMatching(
        /^rule 'huge' \(rules\[3\]\): after\.id\.numeric\.gt: must be within ±1000000000/,
      ),
    ]);
  });

  it('lets a rules file use suffix, equals-ignore-case, wildcard, cidr and anything-but lists', () => {
    const [rule] = validateRules([
      {
        name: 'all-string-operators',
        after: {
          email: [{ suffix: { equalsIgnoreCase: '@Example.com' } }, { wildcard: '*@*.example.org' }],
          name: { equalsIgnoreCase: 'acme' },
          website: { anythingBut: { wildcard: ['*.test', '*.invalid'] } },
          city: { anythingBut: { equalsIgnoreCase: ['paris', 'lyon'] } },
          code: { anythingBut: { suffix: ['-old', '-tmp'] } },
          ip: { cidr: '10.0.0.0/8' },
        },
        target: webhookTarget,
      },
    ]);
    if (!rule) throw new Error('no rule');
    expect(compileRulePattern(rule).detail).toEqual({
      after: {
        email: [{ suffix: { 'equals-ignore-case': '@Example.com' } }, { wildcard: '*@*.example.org' }],
        name: [{ 'equals-ignore-case': 'acme' }],
        website: [{ 'anything-but': { wildcard: ['*.test', '*.invalid'] } }],
        city: [{ 'anything-but': { 'equals-ignore-case': ['paris', 'lyon'] } }],
        code: [{ 'anything-but': { suffix: ['-old', '-tmp'] } }],
        ip: [{ cidr: '10.0.0.0/8' }],
      },
    });
    const after = customer({
      email: 'a@EXAMPLE.com',
      name: 'ACME',
      website: 'acme.com',
      city: 'Nice',
      code: 'A1',
      ip: '10.2.3.4',
    });
    const spec = { ...rule, target: webhookTarget } as SyncRuleSpec;
    expect(matchEventPattern(compileRulePattern(spec), customerEvent('updated', customer(), after))).toEqual({
      matched: true,
      mismatches: [],
    });
    const test = customerEvent('updated', customer(), { ...after, website: 'acme.test' });
    expect(matchEventPattern(compileRulePattern(spec), test).mismatches).toEqual([
      'detail.after.website: "acme.test" does not match [{"anything-but":{"wildcard":["*.test","*.invalid"]}}]',
    ]);
  });

  it('compiles anyOf to $or: the rule matches when any group of conditions holds', () => {
    const [rule] = validateRules([
      {
        name: 'vip-or-big',
        changeTypes: ['updated'],
        anyOf: [
          { after: { vip: true } },
          { after: { revenue: { numeric: { gte: 100000 } } }, changedFields: ['revenue'] },
        ],
        target: webhookTarget,
      },
    ]);
    if (!rule) throw new Error('no rule');
    expect(compileRulePattern(rule).detail).toEqual({
      $or: [
        { after: { vip: [true] } },
        { changedFields: ['revenue'], after: { revenue: [{ numeric: ['>=', 100000] }] } },
      ],
    });
    const vip = customerEvent('updated', customer(), customer({ vip: true }));
    const big = customerEvent('updated', customer({ revenue: 5 }), customer({ revenue: 200000 }));
    const neither = customerEvent('updated', customer(), customer({ vip: false, revenue: 5 }));
    expect(matches(rule as SyncRuleSpec, vip)).toBe(true);
    expect(matches(rule as SyncRuleSpec, big)).toBe(true);
    expect(matchEventPattern(compileRulePattern(rule), neither).mismatches).toEqual([
      '$or alternative 1: detail.after.vip: false does not match [true]',
      '$or alternative 2: detail.after.revenue: 5 does not match [{"numeric":[">=",100000]}]',
    ]);
  });

  it('refuses anyOf with fewer than two groups, and a field given both in and outside anyOf', () => {
    expect(problemsOf([{ name: 'one', anyOf: [{ after: { vip: true } }], target: webhookTarget }])).toEqual([
      "rule 'one' (rules[0]): anyOf: give at least two groups of conditions (one group needs no anyOf)",
    ]);
    const [twice] = validateRules([
      {
        name: 'twice',
        after: { vip: true },
        anyOf: [{ after: { vip: false } }, { changedFields: ['vip'] }],
        target: webhookTarget,
      },
    ]);
    if (!twice) throw new Error('no rule');
    expect(() => compileRulePattern(twice)).toThrow(
      /^rule 'twice': detail\.\$or: 'detail\.after\.vip' is given twice/,
    );
  });

  it('refuses at compile time, naming the rule, a pattern EventBridge would refuse', () => {
    const [rule] = validateRules([
      { name: 'stars', after: { email: { wildcard: 'a**b' } }, target: webhookTarget },
    ]);
    if (!rule) throw new Error('no rule');
    expect(() => compileRulePattern(rule)).toThrow(
      /^rule 'stars': detail\.after\.email: wildcard "a\*\*b" has consecutive '\*' \(EventBridge refuses it\)$/,
    );
  });

  it('reports a syntax error with the file name', () => {
    expect(() => parseRulesText('rules: [', 'broken.yaml')).toThrow(/^broken\.yaml: not valid YAML/);
    expect(() => parseRulesText('{"rules": [}', 'broken.json')).toThrow(/^broken\.json: not valid JSON/);
  });
});
