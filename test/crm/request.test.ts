/**
 * `crmRequester`: one target's requests for many events (local delivery), each change type's delivery built
 * and compiled once, giving every event the request `crmRequest` gives it.
 */
import { describe, expect, it } from 'vitest';
import type { CrmTarget } from '../../shared/crm/model.ts';
import { crmRequest, crmRequester } from '../../shared/crm/request.ts';
import { customer, customerEvent } from '../rules/customer-events.ts';

const salesforce: CrmTarget = {
  type: 'salesforce',
  instanceUrl: 'https://acme.my.salesforce.com',
  object: 'Account',
  externalIdField: 'Nutcache_Id__c',
  fields: { Name: 'name', Phone: 'phone' },
  oauth: { clientId: '3MVG9example' },
  onDelete: { set: { Active__c: false } },
};

describe('crmRequester', () => {
  it('gives each event, of every change type, the request crmRequest gives it', () => {
    const requester = crmRequester(salesforce);
    const events = [
      customerEvent('created', null, customer({ name: 'Acme', phone: '1' })),
      customerEvent('updated', customer({ name: 'Acme' }), customer({ name: 'Acme "Two"', phone: null })),
      customerEvent('deleted', customer({ name: 'Acme' }), null),
    ];
    for (const event of events) {
      expect(requester(event, { token: 't' })).toEqual(crmRequest(salesforce, event, { token: 't' }));
    }
    expect(requester(events[1])).toMatchObject({
      method: 'PATCH',
      url: 'https://acme.my.salesforce.com/services/data/v62.0/sobjects/Account/Nutcache_Id__c/42',
      body: '{"Name":"Acme \\"Two\\"","Phone":null}',
    });
    expect(requester(events[2])?.body).toBe('{"Active__c":false}');
  });
});
