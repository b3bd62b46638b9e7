/**
 * `npm start -- --crm` (the demo as a user runs it, a child process): the example CRM rules upsert every
 * customer into the sandbox's CRM stand-in, and the demo prints the CRM's side: each upsert with the record
 * the CRM now holds, and the record counts at the end.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startSandbox } from '../../sandbox/server.ts';
import { runCli } from '../support/cli.ts';

describe('the local demo with --crm', () => {
  it('prints each customer upserted into the HubSpot-like and Salesforce-like stand-in, and the totals', async () => {
    const args = ['demo', '--crm', '--polls', '3', '--interval', '0.2', '--generated', '0', '--seed', '11'];
    const run = await runCli(args, { NO_COLOR: '1' }, 40_000);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.split('\n');
    const snapshots = lines.filter((l) => l.startsWith('= Customer Snapshot')).length;
    expect(snapshots).toBe(8);
    const hubspot = lines.filter((l) => l.includes('⇢ companies-to-hubspot: POST customer'));
    const salesforce = lines.filter((l) => l.includes('⇢ accounts-to-salesforce: PATCH customer'));
    expect(hubspot.length).toBeGreaterThanOrEqual(8);
    expect(salesforce).toHaveLength(hubspot.length);
    expect(lines).toContain(
      '    ⇢ companies-to-hubspot: POST customer 143222 → 200 {"nutcache_id":"143222","name":"Sample client","phone":"123-456-7890","nutcache_status":"0"}',
    );
    expect(lines).toContain(
      '    ⇢ accounts-to-salesforce: PATCH customer 143222 → 201 {"Nutcache_Id__c":"143222","Name":"Sample client","Phone":"123-456-7890","Nutcache_Status__c":0}',
    );
    const hubspotTotal = lines.find((l) => l.startsWith('CRM stand-in: HubSpot companies:'));
    expect(hubspotTotal).toMatch(/: (\d+) records$/);
    expect(Number(/(\d+) records/.exec(hubspotTotal ?? '')?.[1])).toBeGreaterThanOrEqual(8);
    expect(lines.some((l) => l.startsWith('CRM stand-in: Salesforce Account:'))).toBe(true);
  }, 60_000);

  it('--rules <file> delivers to the CRM targets of the file, with the tokens of the environment', async () => {
    const crm = await startSandbox({ generated: 0 });
    const dir = mkdtempSync(join(tmpdir(), 'demo-rules-'));
    try {
      const file = join(dir, 'rules.yaml');
      writeFileSync(
        file,
        `rules:\n  - name: mine\n    changeTypes: [snapshot]\n    target: { type: salesforce, instanceUrl: ${crm.crm.salesforceUrl}, object: Account, externalIdField: Ext__c, fields: { Name: name }, oauth: { clientId: me } }\n`,
      );
      const args = ['demo', '--rules', file, '--polls', '1', '--generated', '0'];
      const run = await runCli(args, { NO_COLOR: '1', SALESFORCE_ACCESS_TOKEN: crm.crm.tokens.salesforce });
      expect(run.code, run.stderr).toBe(0);
      expect(crm.crm.salesforce('Account').map((r) => r.properties.Name)).toContain('Sample client');
      expect(crm.crm.salesforce('Account')).toHaveLength(8);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await crm.close();
    }
  }, 60_000);
});
