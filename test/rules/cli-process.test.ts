/**
 * `nutcache-cdc rules` as a user runs it (a child process): the mistakes a rules file typically has, and
 * the answers they get (exit status, one readable line per problem).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'rules-process-'));
const QUEUE = "'arn:aws:sqs:eu-west-1:123456789012:q'";

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const rules = (args: readonly string[]) => runCli(['rules', ...args], {});

describe('nutcache-cdc rules (child process)', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('validate: warns about a field name that is not a customer field, naming the known ones', async () => {
    const path = file(
      'typo.yaml',
      `rules:\n  - name: mail-changed\n    changedFields: [emial]\n    after: { emial: { exists: true } }\n    target: { type: sqs, queueArn: ${QUEUE} }\n`,
    );
    const run = await rules(['validate', '--rules', path]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(
      "warning: rule 'mail-changed': changedFields: 'emial' is not a customer field (known: id, organization, name, status, email,",
    );
    expect(run.stderr).toContain(
      "warning: rule 'mail-changed': after.emial: 'emial' is not a customer field",
    );
    expect(run.stdout).toContain('1 rule(s), all valid, 2 warning(s)');

    const strict = await rules(['validate', '--strict', '--rules', path]);
    expect(strict.code).toBe(1);
    expect(strict.stderr).toContain("'emial' is not a customer field");

    const clean = await rules(['validate', '--strict', '--rules', 'examples/sync-rules.yaml']);
    expect(clean.code, clean.stderr).toBe(0);
    expect(clean.stderr).toBe('');
  });

  it('validate: reports a duplicate rule name together with the other problems', async () => {
    const path = file(
      'duplicates.yaml',
      [
        'rules:',
        '  - name: twice',
        '    target: { type: sqs, queueArn: nope }',
        '  - name: twice',
        `    target: { type: sqs, queueArn: ${QUEUE} }`,
        '  - name: other',
        '    after: { status: { greaterThan: 1 } }',
        `    target: { type: sqs, queueArn: ${QUEUE} }`,
        '',
      ].join('\n'),
    );
    const run = await rules(['validate', '--rules', path]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`${path}: 3 problem(s)`);
    expect(run.stderr).toContain("rule 'twice' (rules[0]): target.queueArn: must be an ARN of sqs");
    expect(run.stderr).toContain("rule 'twice' (rules[1]): name: duplicate of rules[0]");
    expect(run.stderr).toContain("rule 'other' (rules[2]): after.status: unknown operator 'greaterThan'");
  });

  it('validate: a YAML error names the line and shows it', async () => {
    const path = file('broken.yaml', 'rules:\n  - name: a\n    after: { status: 1\n    target: x\n');
    const run = await rules(['validate', '--rules', path]);
    expect(run.code).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^${path}: not valid YAML \\(line 4, column 5\\): .+[^:]$`));
    expect(lines[1]).toBe('    4 |     target: x');
    expect(lines).toHaveLength(3); // and a caret under the column
  });

  it('validate: a JSON error names the line too', async () => {
    const path = file('broken.json', '{\n  "rules": [\n    { "name": "a", }\n  ]\n}\n');
    const run = await rules(['validate', '--rules', path]);
    expect(run.code).toBe(1);
    expect(run.stderr.split('\n')[0]).toMatch(
      new RegExp(`^${path}: not valid JSON \\(line 3, column \\d+\\): `),
    );
  });

  it('test: each event is labelled by its detail-type, customer and event id; a non-event anywhere stops all', async () => {
    const envelope = {
      version: '0',
      id: 'e1',
      source: 'nutcache.customers',
      account: '123456789012',
      time: '2026-11-29T12:00:00Z',
      region: 'eu-west-1',
      resources: [],
    };
    const updated = {
      ...envelope,
      'detail-type': 'Customer Updated',
      detail: { customerId: 147504, eventId: 'evt-1', changedFields: ['email'] },
    };
    const other = { ...envelope, 'detail-type': 'Something Else', detail: {} };
    const events = file('two.jsonl', `${JSON.stringify(updated)}\n${JSON.stringify(other)}\n`);
    const run = await rules(['test', '--rules', 'examples/sync-rules.yaml', '--event', events]);
    expect(run.code, run.stderr).toBe(0);
    const labels = run.stdout.split('\n').filter((line) => line.startsWith('event '));
    expect(labels).toEqual(['event 1: Customer Updated customer 147504 [evt-1]', 'event 2: Something Else']);

    const mixed = file('mixed.jsonl', `${JSON.stringify(updated)}\n{"hello": 1}\n`);
    const refused = await rules(['test', '--rules', 'examples/sync-rules.yaml', '--event', mixed]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain('event 2 is not an EventBridge event');
  });

  it('test: something that is not an event exits 1 with one line', async () => {
    const notEvent = file('not-event.json', '{"hello": 1}\n');
    const run = await rules(['test', '--rules', 'examples/sync-rules.yaml', '--event', notEvent]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toEqual([
      `nutcache-cdc rules test: ${notEvent}: event 1 is not an EventBridge event ('version' is missing or invalid); give the JSON a rule target receives, or JSON lines of them`,
    ]);
    const empty = await rules([
      'test',
      '--rules',
      'examples/sync-rules.yaml',
      '--event',
      file('e.json', '\n'),
    ]);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(/e\.json: no event in the file/);
  });
});
