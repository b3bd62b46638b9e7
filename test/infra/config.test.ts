import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ConfigError,
  DEFAULT_CONFIG_FILE,
  EXAMPLE_CONFIG_FILE,
  loadConfig,
  MAX_STACK_SECRETS,
  parseConfig,
  resolveConfigPath,
} from '../../infra/config.ts';

const GUID = '846E176E-7C4B-4BFD-A894-C98F2988927E';
const minimal = { environmentName: 'prod', organizations: [{ organizationGuid: GUID }] };

function issuesOf(raw: unknown): readonly string[] {
  try {
    parseConfig(raw);
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  throw new Error('expected the configuration to be rejected');
}

describe('deployment configuration', () => {
  it('fills in the documented defaults for a minimal configuration', () => {
    const config = parseConfig(minimal);
    expect(config).toMatchObject({
      initialEvents: 'snapshot',
      eventSource: 'nutcache.customers',
      eventBus: { type: 'create' },
      archiveRetentionDays: 90,
      retainTable: true,
      dailyRequestBudget: 20_000,
      staleAfterIntervals: 3,
      logRetentionDays: 30,
    });
    expect(config.organizations[0]).toEqual({
      organizationGuid: GUID,
      secret: { type: 'create' },
      scheduleRateMinutes: 15,
    });
    expect(config.alarmEmail).toBeUndefined();
  });

  it('passes the CRM sync rules file through untouched', () => {
    expect(parseConfig({ ...minimal, syncRulesFile: 'rules/crm.yaml' }).syncRulesFile).toBe('rules/crm.yaml');
    expect(issuesOf({ ...minimal, syncRulesFile: 42 })).toEqual([expect.stringMatching(/^syncRulesFile: /)]);
  });

  it.each([
    [
      { ...minimal, organizations: [{ organizationGuid: 'not-a-guid' }] },
      'organizations[0].organizationGuid: must be a GUID',
    ],
    [{ ...minimal, organizations: [] }, 'organizations: must list at least one organization'],
    [{ organizations: minimal.organizations }, 'environmentName: is required'],
    [{ ...minimal, environmentName: 'Prod!' }, 'environmentName: must be 1-20 lower-case'],
    [
      { ...minimal, organizations: [{ organizationGuid: GUID, scheduleRateMinutes: 0 }] },
      'organizations[0].scheduleRateMinutes: must be at least 1 minute',
    ],
    [
      { ...minimal, organizations: [{ organizationGuid: GUID, secret: { type: 'import' } }] },
      'organizations[0].secret: an imported secret needs exactly one of "name" or "arn"',
    ],
    [
      { ...minimal, organizations: [{ organizationGuid: GUID, secret: { type: 'import', arn: 'nope' } }] },
      'organizations[0].secret.arn: must be a Secrets Manager secret ARN',
    ],
    [
      { ...minimal, organizations: [{ organizationGuid: GUID, secret: { type: 'fetch' } }] },
      'organizations[0].secret.type: must be {"type": "create"}',
    ],
    [{ ...minimal, eventBus: { type: 'import' } }, 'eventBus: an imported event bus needs exactly one of'],
    [
      { ...minimal, dailyRequestBudget: 50_000 },
      "dailyRequestBudget: must not exceed Nutcache's daily quota",
    ],
    [{ ...minimal, alarmEmail: 'ops' }, 'alarmEmail: must be an e-mail address'],
    [{ ...minimal, initialEvents: 'all' }, 'initialEvents: must be "snapshot"'],
    [{ ...minimal, eventSource: 'aws.nutcache' }, 'eventSource: must not start with "aws."'],
    [{ ...minimal, logRetentionDays: 10 }, 'logRetentionDays: must be one of 7, 14, 30'],
    [{ ...minimal, retainTable: 'yes' }, 'retainTable: '],
    [{ ...minimal, organisations: [] }, '(root): Unrecognized key: "organisations"'],
    [
      { ...minimal, organizations: [{ organizationGuid: GUID }, { organizationGuid: GUID.toLowerCase() }] },
      'organizations[1].organizationGuid: duplicates organization',
    ],
  ])('rejects %j naming the field at fault', (raw, expected) => {
    const issues = issuesOf(raw);
    expect(
      issues.some((issue) => issue.startsWith(expected)),
      issues.join('\n'),
    ).toBe(true);
  });

  describe('limits a real account enforces', () => {
    const kmsKeyArn = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const importedWithKey = {
      ...minimal,
      organizations: [
        { organizationGuid: GUID, secret: { type: 'import', name: 'nutcache/acme', kmsKeyArn } },
      ],
    };

    it('accepts a KMS key for an imported secret, and only a KMS key ARN', () => {
      expect(parseConfig(importedWithKey).organizations[0]?.secret).toEqual({
        type: 'import',
        name: 'nutcache/acme',
        kmsKeyArn,
      });
      const bad = structuredClone(importedWithKey);
      (bad.organizations[0] as { secret: { kmsKeyArn: string } }).secret.kmsKeyArn = 'alias/mine';
      expect(issuesOf(bad)).toEqual([
        expect.stringMatching(/^organizations\[0\]\.secret\.kmsKeyArn: must be a KMS key ARN/),
      ]);
    });

    it('reserves no concurrency unless asked, for the poller and for sync-now', () => {
      const config = parseConfig(minimal);
      expect(config.pollerReservedConcurrency).toBeUndefined();
      expect(config.syncNowReservedConcurrency).toBeUndefined();
      expect(parseConfig({ ...minimal, syncNowReservedConcurrency: 2 }).syncNowReservedConcurrency).toBe(2);
      expect(issuesOf({ ...minimal, syncNowReservedConcurrency: 0 })).toEqual([
        expect.stringMatching(/^syncNowReservedConcurrency: must be at least 1/),
      ]);
    });

    const organizations = (count: number, secret?: { type: 'convention' }) =>
      Array.from({ length: count }, (_, i) => ({
        organizationGuid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
        ...(secret ? { secret } : {}),
      }));

    it('accepts 2,000 organizations: they are data, not environment variables or stack resources', () => {
      const convention = organizations(2_000, { type: 'convention' });
      expect(parseConfig({ ...minimal, organizations: convention }).organizations).toHaveLength(2_000);
    });

    it('refuses more stack-created secrets than a template holds, pointing to the naming convention', () => {
      const kept = parseConfig({ ...minimal, organizations: organizations(MAX_STACK_SECRETS) });
      expect(kept.organizations).toHaveLength(MAX_STACK_SECRETS);
      expect(issuesOf({ ...minimal, organizations: organizations(MAX_STACK_SECRETS + 1) })).toEqual([
        expect.stringMatching(
          new RegExp(`^organizations: ${MAX_STACK_SECRETS + 1} organizations have .*"type": "convention"`),
        ),
      ]);
    });
  });

  it('lists every problem at once in the error message, with the file name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nutcache-config-'));
    const file = join(dir, 'bad.json');
    writeFileSync(
      file,
      JSON.stringify({
        environmentName: 'x',
        organizations: [{ organizationGuid: 'x' }],
        archiveRetentionDays: -1,
      }),
    );
    try {
      expect(() => loadConfig(file)).toThrowError(
        new RegExp(
          `Invalid nutcache-cdc configuration \\(${file}\\):\\n  - organizations\\[0\\]\\.organizationGuid: .*\\n  - archiveRetentionDays: `,
        ),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports a missing file and invalid JSON as configuration errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nutcache-config-'));
    const file = join(dir, 'broken.json');
    writeFileSync(file, '{ "environmentName": ');
    try {
      expect(() => loadConfig(join(dir, 'absent.json'))).toThrowError(/\(file\): file not found/);
      expect(() => loadConfig(file)).toThrowError(/\(file\): not valid JSON/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('which file is read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nutcache-config-path-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('reads the context value when given, relative to the working directory', () => {
      expect(resolveConfigPath('configs/prod.json', dir)).toBe(join(dir, 'configs/prod.json'));
      expect(resolveConfigPath('/etc/nutcache.json', dir)).toBe('/etc/nutcache.json');
    });

    it('falls back to the committed example until nutcache-cdc.config.json exists', () => {
      expect(resolveConfigPath(undefined, dir)).toBe(join(dir, EXAMPLE_CONFIG_FILE));
      writeFileSync(join(dir, DEFAULT_CONFIG_FILE), '{}');
      expect(resolveConfigPath(undefined, dir)).toBe(join(dir, DEFAULT_CONFIG_FILE));
    });

    it('rejects a context value that is not a path', () => {
      expect(() => resolveConfigPath(42, dir)).toThrowError(/config: must be the path/);
    });
  });

  it('ships an example configuration that is valid and names one placeholder organization', () => {
    const example = loadConfig(resolve(import.meta.dirname, '../../', EXAMPLE_CONFIG_FILE));
    expect(example.organizations).toHaveLength(1);
    expect(example.organizations[0]?.secret).toEqual({ type: 'convention' });
  });
});
