import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runRules } from '../../cli/commands/rules.ts';
import { customer, customerEvent } from './customer-events.ts';

const dir = mkdtempSync(join(tmpdir(), 'rules-cli-'));
const EXAMPLE = new URL('../../examples/sync-rules.yaml', import.meta.url).pathname;

async function cli(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runRules(argv, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('nutcache-cdc rules', () => {
  it('test: says which rules match an event and why the others do not', async () => {
    const file = join(dir, 'deactivated.json');
    writeFileSync(
      file,
      JSON.stringify(customerEvent('updated', customer({ status: 0 }), customer({ status: 1 }))),
    );
    const { code, out } = await cli(['test', '--event', file, '--rules', EXAMPLE]);
    expect(code).toBe(0);
    expect(out).toContain('✓ customer-deactivated matches → webhook crm.example.com');
    expect(out).toContain('✗ contact-details-changed does not match:');
    expect(out).toContain('detail.changedFields: "status" does not match ["email","name"]');
    expect(out).toContain('detail-type: "Customer Updated" does not match ["Customer Created"]');
  });

  it('test: reads JSON lines (the local sink output), one verdict block per event', async () => {
    const file = join(dir, 'events.jsonl');
    const created = customerEvent('created', null, customer({ country: 40 }), 'evt-created');
    const renamed = customerEvent('updated', customer(), customer({ name: 'Acme SA' }), 'evt-renamed');
    writeFileSync(file, `${JSON.stringify(created)}\n${JSON.stringify(renamed)}\n`);
    const { out } = await cli(['test', '--event', file, '--rules', EXAMPLE]);
    expect(out).toMatch(
      /event 1: Customer Created customer 42 \[evt-created\][\s\S]*✓ new-customer-in-country-40/,
    );
    expect(out).toMatch(
      /event 2: Customer Updated customer 42 \[evt-renamed\][\s\S]*✓ contact-details-changed/,
    );
  });

  it('validate: lists each rule with its pattern size; a bad file fails naming the rule and field', async () => {
    const ok = await cli(['validate', '--rules', EXAMPLE]);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(
      /✓ customer-deactivated → webhook crm\.example\.com \(pattern \d+\/2048 characters\)/,
    );
    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      'rules:\n  - name: broken\n    after:\n      status: { greaterThan: 1 }\n    target: { type: sqs, queueArn: nope }\n',
    );
    const failed = await cli(['validate', '--rules', bad]);
    expect(failed.code).toBe(1);
    expect(failed.err).toContain("rule 'broken' (rules[0]): after.status: unknown operator 'greaterThan'");
    expect(failed.err).toContain("rule 'broken' (rules[0]): target.queueArn: must be an ARN of sqs");
  });

  it('validate and test: refuse a pattern EventBridge would refuse, naming the rule and field', async () => {
    const bad = join(dir, 'refused.yaml');
    writeFileSync(
      bad,
      "rules:\n  - name: ip-rule\n    after:\n      ip: { cidr: '10.0.0.0/40' }\n    target: { type: sqs, queueArn: 'arn:aws:sqs:eu-west-1:123456789012:q' }\n",
    );
    for (const argv of [['validate'], ['test', '--event', bad]]) {
      const refused = await cli([...argv, '--rules', bad]);
      expect(refused.code).toBe(1);
      expect(refused.err).toBe(
        `${bad}: rule 'ip-rule': detail.after.ip: cidr takes an IPv4 or IPv6 block such as "10.0.0.0/24", got "10.0.0.0/40"`,
      );
    }
  });

  it("test: compiles the rules for the config's eventSource, as the deployed stack does", async () => {
    const project = mkdtempSync(join(tmpdir(), 'rules-cli-project-'));
    writeFileSync(
      join(project, 'nutcache-cdc.config.json'),
      JSON.stringify({ environmentName: 'dev', eventSource: 'acme.nutcache', syncRulesFile: EXAMPLE }),
    );
    const deactivated = customerEvent('updated', customer({ status: 0 }), customer({ status: 1 }));
    const ours = join(project, 'ours.json');
    writeFileSync(ours, JSON.stringify({ ...deactivated, source: 'acme.nutcache' }));
    const other = join(project, 'other.json');
    writeFileSync(other, JSON.stringify(deactivated));
    const cwd = process.cwd();
    process.chdir(project);
    try {
      const matched = await cli(['test', '--event', ours]);
      expect(matched.code).toBe(0);
      expect(matched.out).toContain('✓ customer-deactivated matches');
      const unmatched = await cli(['test', '--event', other]);
      expect(unmatched.out).toContain('✗ customer-deactivated does not match:');
      expect(unmatched.out).toMatch(/source: "nutcache\.customers" does not match \["acme\.nutcache"\]/);
      // --event-source still wins over the config.
      const overridden = await cli(['test', '--event', other, '--event-source', 'nutcache.customers']);
      expect(overridden.out).toContain('✓ customer-deactivated matches');
    } finally {
      process.chdir(cwd);
    }
  });

  it('answers usage errors with exit code 64', async () => {
    expect((await cli(['test', '--rules', EXAMPLE])).code).toBe(64);
    expect((await cli(['frobnicate'])).code).toBe(64);
    expect((await cli(['test', '--bogus'])).code).toBe(64);
  });
});
