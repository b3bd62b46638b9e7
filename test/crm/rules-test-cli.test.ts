/**
 * `nutcache-cdc rules test` with CRM targets, through the CLI process: it prints the exact HTTP request each
 * matching CRM target would receive (method, URL, headers, body), or why it would receive none.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CanonicalCustomer } from '../../shared/customer.ts';
import { customer, customerEvent } from '../rules/customer-events.ts';
import { runCli } from '../support/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'crm-rules-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const RULES = `rules:
  - name: to-hubspot
    changeTypes: [created, updated, deleted]
    target:
      type: hubspot
      object: companies
      idProperty: nutcache_id
      properties: { name: name, phone: phone, zip: zip_code, nutcache_status: status }
      onDelete: { set: { nutcache_status: deleted } }
  - name: to-salesforce
    changeTypes: [created, updated, deleted]
    target:
      type: salesforce
      instanceUrl: https://example.my.salesforce.com
      object: Account
      externalIdField: Nutcache_Id__c
      fields: { Name: name, Phone: phone, BillingPostalCode: zip_code }
      oauth: { clientId: abc }
`;
const rulesFile = join(dir, 'crm.yaml');
writeFileSync(rulesFile, RULES);

async function rulesTest(event: unknown) {
  const file = join(dir, `event-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(event));
  const run = await runCli(['rules', 'test', '--rules', rulesFile, '--event', file], { HOME: dir });
  expect(run.code, run.stderr).toBe(0);
  return run.stdout;
}

const acme = (overrides: Partial<Record<string, CanonicalCustomer[string]>>) =>
  customer({ phone: '514-555-0100', zip_code: 'H2X 1Y4', ...overrides });

describe('nutcache-cdc rules test with CRM targets', () => {
  it('prints the exact request: values as JSON (quotes escaped, null kept, "" kept), the id in the body or the URL', async () => {
    const out = await rulesTest(
      customerEvent('updated', acme({}), acme({ name: 'Acme "Best" Ltd', phone: null, zip_code: '' })),
    );
    expect(out).toContain(
      [
        '  ✓ to-hubspot matches → HubSpot companies',
        '      POST https://api.hubapi.com/crm/v3/objects/companies/batch/upsert',
        "      Authorization: Bearer <token: the connection's; locally HUBSPOT_TOKEN>",
        '      Content-Type: application/json',
        '',
        '      {"inputs":[{"idProperty":"nutcache_id","id":"42","properties":{"name":"Acme \\"Best\\" Ltd","phone":null,"zip":"","nutcache_status":0}}]}',
        '  ✓ to-salesforce matches → Salesforce Account',
        '      PATCH https://example.my.salesforce.com/services/data/v62.0/sobjects/Account/Nutcache_Id__c/42',
        "      Authorization: Bearer <token: the connection's; locally SALESFORCE_ACCESS_TOKEN>",
        '      Content-Type: application/json',
        '',
        '      {"Name":"Acme \\"Best\\" Ltd","Phone":null,"BillingPostalCode":""}',
      ].join('\n'),
    );
  });

  it("prints a deletion's constants, or that no request is sent (onDelete: ignore)", async () => {
    const out = await rulesTest(customerEvent('deleted', acme({}), null));
    expect(out).toContain(
      '      {"inputs":[{"idProperty":"nutcache_id","id":"42","properties":{"nutcache_status":"deleted"}}]}',
    );
    expect(out).toContain(
      '  ✓ to-salesforce matches → Salesforce Account\n      no request: a deletion with onDelete: ignore',
    );
  });

  it('says EventBridge would not deliver a body whose mapped field is missing from the customer', async () => {
    const withoutPhone = acme({});
    const { phone: _phone, ...rest } = withoutPhone;
    const out = await rulesTest(customerEvent('created', null, rest as CanonicalCustomer));
    expect(out).toMatch(
      /to-hubspot matches[^\n]*\n {6}no request: EventBridge would not deliver it \(.*<f_phone>/,
    );
  });

  it('does not match a truncated event (it carries no customer, and mapping it would clear every field)', async () => {
    const event = customerEvent('updated', acme({}), acme({ status: 1 }));
    const detail = event.detail as Record<string, unknown>;
    const truncated = { ...event, detail: { ...detail, before: null, after: null, truncated: true } };
    const out = await rulesTest(truncated);
    expect(out).toContain('✗ to-hubspot does not match:');
    expect(out).toContain('detail.truncated');
    expect(out).not.toContain('POST ');
  });
});
