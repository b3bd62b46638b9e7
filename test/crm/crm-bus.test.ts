/**
 * Local CRM delivery (`CrmRulesBus`) against the sandbox's CRM stand-in and small loopback servers: what
 * reaches the CRM, and which per-entry result each CRM answer gives the publisher (retried or dead-lettered,
 * as the deployed rule target would be).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../sandbox/server.ts';
import { CrmRulesBus } from '../../shared/crm/crm-bus.ts';
import type { CanonicalCustomer } from '../../shared/customer.ts';
import type { CustomerChangeDetail, EventBridgeEvent } from '../../shared/events/contract.ts';
import type { BusEntry, BusEntryResult, EventBus } from '../../shared/ports.ts';
import { toBusEntry } from '../../shared/publish/serialize.ts';
import { type SyncRuleSpec, validateRules } from '../../shared/rules/model.ts';
import { customer, customerEvent } from '../rules/customer-events.ts';
import { runCli } from '../support/cli.ts';

function entryOf(event: EventBridgeEvent): BusEntry {
  const detail = event.detail as CustomerChangeDetail;
  return toBusEntry({ source: event.source, detailType: event['detail-type'], detail, time: event.time });
}

function hubspotRules(baseUrl: string, extra: Record<string, unknown> = {}): SyncRuleSpec[] {
  return validateRules({
    rules: [
      {
        name: 'to-hubspot',
        changeTypes: ['created', 'updated'],
        ...extra,
        target: {
          type: 'hubspot',
          object: 'companies',
          idProperty: 'nutcache_id',
          properties: { name: 'name', phone: 'phone' },
          baseUrl,
        },
      },
    ],
  });
}

const renamed = (name: string, more: Partial<Record<string, CanonicalCustomer[string]>> = {}) =>
  entryOf(customerEvent('updated', customer({ phone: '1' }), customer({ name, phone: '1', ...more })));

/** A loopback server answering every request with the statuses given, in turn. */
async function answering(statuses: number[]): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    req.resume();
    res.writeHead(statuses.shift() ?? 200, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}

describe('CrmRulesBus', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ generated: 0 });
  });
  afterAll(async () => {
    await sandbox.close();
  });

  it('upserts a matching event, sends nothing for others, and clears a property set to null or ""', async () => {
    const bus = new CrmRulesBus({
      rules: hubspotRules(sandbox.crm.hubspotUrl, { changedFields: ['name', 'phone'] }),
      tokens: sandbox.crm.tokens,
    });
    expect(await bus.putEvents([renamed('Acme "One"')])).toEqual([{ ok: true }]);
    expect(sandbox.crm.hubspot('companies')).toEqual([
      { key: '42', properties: { nutcache_id: '42', name: 'Acme "One"', phone: '1' } },
    ]);
    const requests = sandbox.crm.requests.length;
    const statusOnly = customerEvent('updated', customer({ status: 0 }), customer({ status: 1 }));
    expect(await bus.putEvents([entryOf(statusOnly)])).toEqual([{ ok: true }]);
    expect(sandbox.crm.requests.length).toBe(requests);
    await bus.putEvents([renamed('Acme', { phone: null })]);
    expect(sandbox.crm.hubspot('companies')[0]?.properties).toEqual({ nutcache_id: '42', name: 'Acme' });
  });

  it('gives AccessDenied (dead-lettered, not retried) when the CRM refuses the token', async () => {
    const bus = new CrmRulesBus({
      rules: hubspotRules(sandbox.crm.hubspotUrl),
      tokens: { hubspot: 'wrong' },
    });
    const [result] = await bus.putEvents([renamed('Acme')]);
    expect(result).toMatchObject({ ok: false, errorCode: 'AccessDenied' });
    expect(sandbox.crm.requests.at(-1)?.status).toBe(401);
  });

  it('gives ThrottlingException for 429 and InternalFailure for 5xx or no answer (both retried), ValidationException for 400', async () => {
    const server = await answering([429, 503, 400]);
    try {
      const bus = new CrmRulesBus({ rules: hubspotRules(server.url), tokens: { hubspot: 't' } });
      const codes = [];
      for (let i = 0; i < 3; i++) {
        const [result] = await bus.putEvents([renamed('Acme')]);
        codes.push(result?.ok ? 'ok' : result?.errorCode);
      }
      expect(codes).toEqual(['ThrottlingException', 'InternalFailure', 'ValidationException']);
    } finally {
      await server.close();
    }
    const refused = new CrmRulesBus({ rules: hubspotRules(server.url), tokens: { hubspot: 't' } });
    expect((await refused.putEvents([renamed('Acme')]))[0]).toMatchObject({ errorCode: 'InternalFailure' });
  });

  it('dead-letters an event whose mapped field is missing, naming the rule (EventBridge would not deliver it)', async () => {
    const { phone: _phone, ...withoutPhone } = customer({ phone: '1' });
    const event = customerEvent('created', null, withoutPhone as CanonicalCustomer);
    const bus = new CrmRulesBus({ rules: hubspotRules(sandbox.crm.hubspotUrl), tokens: sandbox.crm.tokens });
    const [result] = await bus.putEvents([entryOf(event)]);
    expect(result).toMatchObject({ ok: false, errorCode: 'ValidationException' });
    expect(result?.ok === false && result.errorMessage).toMatch(/rule 'to-hubspot'.*<f_phone>/);
  });

  it('keeps the inner output first: an entry it failed is not sent to the CRM', async () => {
    const inner: EventBus = {
      putEvents: async (entries) =>
        entries.map((): BusEntryResult => ({ ok: false, errorCode: 'InternalFailure' })),
    };
    const bus = new CrmRulesBus({
      rules: hubspotRules(sandbox.crm.hubspotUrl),
      tokens: sandbox.crm.tokens,
      inner,
    });
    const requests = sandbox.crm.requests.length;
    expect(await bus.putEvents([renamed('Other')])).toEqual([{ ok: false, errorCode: 'InternalFailure' }]);
    expect(sandbox.crm.requests.length).toBe(requests);
  });
});

describe('the Salesforce-like stand-in', () => {
  it('refuses a body naming the external id field, and clears a field set to null', async () => {
    const sandbox = await startSandbox({ generated: 0 });
    try {
      const url = `${sandbox.crm.salesforceUrl}/services/data/v62.0/sobjects/Account/Ext__c/7`;
      const send = (body: unknown) =>
        fetch(url, {
          method: 'PATCH',
          headers: {
            authorization: `Bearer ${sandbox.crm.tokens.salesforce}`,
            'content-type': 'application/json',
          },
          body: JSON.stringify(body),
        });
      expect((await send({ Name: 'A', Phone: '1' })).status).toBe(201);
      expect((await send({ Phone: null })).status).toBe(200);
      expect((await send({ Ext__c: '8' })).status).toBe(400);
      expect(sandbox.crm.salesforce('Account')).toEqual([
        { key: '7', properties: { Ext__c: '7', Name: 'A' } },
      ]);
    } finally {
      await sandbox.close();
    }
  });
});

describe('nutcache-cdc poll --rules', () => {
  it("stops before polling, naming the variable, when a CRM rule's token is not set", async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'crm-token-'));
    try {
      const file = join(dir, 'rules.yaml');
      writeFileSync(
        file,
        'rules:\n  - name: to-hubspot\n    target: { type: hubspot, object: companies, idProperty: nutcache_id, properties: { name: name } }\n',
      );
      const run = await runCli(
        ['poll', '--rules', file, '--base-url', 'http://127.0.0.1:9/webapi/', '--state-dir', dir],
        {
          HOME: dir,
          NUTCACHE_API_KEY: 'k',
          NUTCACHE_USERNAME: 'u',
          NUTCACHE_PASSWORD: 'p',
          NUTCACHE_ORGANIZATION_GUID: '846E176E-7C4B-4BFD-A894-C98F2988927E',
        },
      );
      expect(run.code).toBe(1);
      expect(run.stderr).toContain("rule 'to-hubspot' needs HUBSPOT_TOKEN");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
