import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { crmDelivery } from '../../shared/crm/transformer.ts';
import { KNOWN_CUSTOMER_FIELDS } from '../../shared/customer.ts';
import { parseRulesText, RulesConfigError, validateRules } from '../../shared/rules/model.ts';

const hubspot = {
  type: 'hubspot',
  object: 'companies',
  idProperty: 'nutcache_id',
  properties: { name: 'name', phone: 'phone', zip: 'zip_code' },
};
const salesforce = {
  type: 'salesforce',
  instanceUrl: 'https://example.my.salesforce.com',
  object: 'Account',
  externalIdField: 'Nutcache_Id__c',
  fields: { Name: 'name', BillingPostalCode: 'zip_code' },
  oauth: { clientId: '3MVG9example' },
};

function problemsOf(target: unknown): readonly string[] {
  try {
    validateRules({ rules: [{ name: 'crm', target }] }, 'rules.yaml');
  } catch (error) {
    if (error instanceof RulesConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('CRM targets in a rules file', () => {
  it('accepts the example file, with both CRMs and their deletion choices', () => {
    const rules = parseRulesText(
      readFileSync(new URL('../../examples/crm-rules.yaml', import.meta.url), 'utf8'),
      'examples/crm-rules.yaml',
    );
    expect(rules.map((r) => r.target.type)).toEqual(['hubspot', 'salesforce']);
  });

  it('accepts a minimal HubSpot and a minimal Salesforce target', () => {
    expect(problemsOf(hubspot)).toEqual([]);
    expect(problemsOf(salesforce)).toEqual([]);
  });

  it('refuses a mapping that names an unknown customer field, naming the known fields', () => {
    const problems = problemsOf({ ...hubspot, properties: { email: 'emial' } });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain("target.properties.email: unknown customer field 'emial'");
    expect(problems[0]).toContain(`known fields: ${KNOWN_CUSTOMER_FIELDS.join(', ')}`);
    expect(problemsOf({ ...salesforce, fields: { Name: 'Name' } })[0]).toContain(
      "target.fields.Name: unknown customer field 'Name'",
    );
  });

  it('refuses names the CRM would refuse, and the upsert key among the mapped fields', () => {
    expect(problemsOf({ ...hubspot, properties: { 'Company Name': 'name' } })[0]).toContain(
      'not a HubSpot internal name',
    );
    expect(problemsOf({ ...hubspot, properties: { nutcache_id: 'id' } })[0]).toContain(
      "'nutcache_id' is the idProperty",
    );
    expect(problemsOf({ ...salesforce, fields: { Billing__City: 'city' } })[0]).toContain(
      'not a Salesforce API name',
    );
    expect(problemsOf({ ...salesforce, fields: { nutcache_id__c: 'id' } })[0]).toContain(
      "'nutcache_id__c' is the externalIdField",
    );
    expect(problemsOf({ ...salesforce, instanceUrl: 'http://example.my.salesforce.com' })[0]).toContain(
      'target.instanceUrl: must be an https:// URL (http only to a loopback address)',
    );
    expect(problemsOf({ ...hubspot, onDelete: { set: { nutcache_status: 1 } } })[0]).toContain(
      'target.onDelete',
    );
    expect(problemsOf({ ...hubspot, properties: {} })[0]).toContain('map at least one field');
  });
});

describe('crmDelivery', () => {
  const [hub] = validateRules({ rules: [{ name: 'h', target: hubspot }] });
  const [sf] = validateRules({ rules: [{ name: 's', target: salesforce }] });

  it('sends a HubSpot batch upsert keyed by the id property, with the values as their JSON text', () => {
    if (hub?.target.type !== 'hubspot') throw new Error('expected a HubSpot target');
    expect(crmDelivery(hub.target, 'updated')).toEqual({
      httpMethod: 'POST',
      endpoint: 'https://api.hubapi.com/crm/v3/objects/companies/batch/upsert',
      inputTransformer: {
        inputPathsMap: {
          customerId: '$.detail.customerId',
          f_name: '$.detail.after.name',
          f_phone: '$.detail.after.phone',
          f_zip_code: '$.detail.after.zip_code',
        },
        inputTemplate:
          '{"inputs":[{"idProperty":"nutcache_id","id":"<customerId>","properties":{"name":<f_name>,"phone":<f_phone>,"zip":<f_zip_code>}}]}',
      },
      headers: { 'Content-Type': 'application/json' },
    });
  });

  it('sends a Salesforce PATCH by external id with the id as a path parameter and bare values', () => {
    if (sf?.target.type !== 'salesforce') throw new Error('expected a Salesforce target');
    expect(crmDelivery(sf.target, 'created')).toEqual({
      httpMethod: 'PATCH',
      endpoint: 'https://example.my.salesforce.com/services/data/v62.0/sobjects/Account/Nutcache_Id__c/*',
      pathParameterValues: ['$.detail.customerId'],
      inputTransformer: {
        inputPathsMap: { f_name: '$.detail.after.name', f_zip_code: '$.detail.after.zip_code' },
        inputTemplate: '{"Name":<f_name>,"BillingPostalCode":<f_zip_code>}',
      },
      headers: { 'Content-Type': 'application/json' },
    });
  });

  it('sends nothing for a deletion by default, and the constants of onDelete otherwise', () => {
    if (hub?.target.type !== 'hubspot' || sf?.target.type !== 'salesforce') throw new Error('targets');
    expect(crmDelivery(hub.target, 'deleted')).toBeUndefined();
    expect(crmDelivery(sf.target, 'deleted')).toBeUndefined();
    const hubDelete = crmDelivery(
      { ...hub.target, onDelete: { set: { nutcache_status: 'deleted' } } },
      'deleted',
    );
    expect(hubDelete?.inputTransformer).toEqual({
      inputPathsMap: { customerId: '$.detail.customerId' },
      inputTemplate:
        '{"inputs":[{"idProperty":"nutcache_id","id":"<customerId>","properties":{"nutcache_status":"deleted"}}]}',
    });
    const sfDelete = crmDelivery(
      { ...sf.target, onDelete: { set: { Active__c: false, Phone: null } } },
      'deleted',
    );
    expect(sfDelete?.inputTransformer).toEqual({
      inputPathsMap: {},
      inputTemplate: '{"Active__c":false,"Phone":null}',
    });
    expect(sfDelete?.pathParameterValues).toEqual(['$.detail.customerId']);
  });
});
