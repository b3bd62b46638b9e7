/**
 * CRM sync rules end to end, locally: sandbox Nutcache API → `nutcache-cdc poll --rules` (the CLI process)
 * → the rules' CRM targets → the sandbox's CRM stand-in (HubSpot-like and Salesforce-like upserts). After
 * creations, updates (to null, to "", to a value with quotes), key-casing flips and a deletion, each CRM's
 * records equal the mapping of Nutcache's customers; replaying every published event (duplicates, and
 * customers interleaved in another order, each customer's events in sequence order) leaves them equal.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../sandbox/server.ts';
import { CrmRulesBus } from '../../shared/crm/crm-bus.ts';
import type { CanonicalCustomer } from '../../shared/customer.ts';
import {
  type CustomerChangeDetail,
  type EventBridgeEvent,
  eventBridgeEventSchema,
} from '../../shared/events/contract.ts';
import type { BusEntry } from '../../shared/ports.ts';
import { seededRandom } from '../../shared/publish/memory.ts';
import { toBusEntry } from '../../shared/publish/serialize.ts';
import { parseRulesText } from '../../shared/rules/model.ts';
import { credentialsOf, runCli } from '../support/cli.ts';
import { canonicalCustomersOf } from './helpers.ts';

const HUBSPOT_PROPERTIES = {
  name: 'name',
  phone: 'phone',
  city: 'city',
  zip: 'zip_code',
  nutcache_status: 'status',
};
const SALESFORCE_FIELDS = {
  Name: 'name',
  Phone: 'phone',
  BillingCity: 'city',
  BillingPostalCode: 'zip_code',
  Status__c: 'status',
};
const HUBSPOT_DELETED = { nutcache_status: 'deleted' };
const SALESFORCE_DELETED = { Status__c: -1 };

function rulesYaml(sandbox: Sandbox): string {
  return `rules:
  - name: companies-to-hubspot
    changeTypes: [created, updated, snapshot, deleted]
    target:
      type: hubspot
      object: companies
      idProperty: nutcache_id
      properties: ${JSON.stringify(HUBSPOT_PROPERTIES)}
      baseUrl: ${sandbox.crm.hubspotUrl}
      onDelete: { set: ${JSON.stringify(HUBSPOT_DELETED)} }
  - name: accounts-to-salesforce
    changeTypes: [created, updated, snapshot, deleted]
    target:
      type: salesforce
      instanceUrl: ${sandbox.crm.salesforceUrl}
      object: Account
      externalIdField: Nutcache_Id__c
      fields: ${JSON.stringify(SALESFORCE_FIELDS)}
      oauth: { clientId: local }
      onDelete: { set: ${JSON.stringify(SALESFORCE_DELETED)} }
`;
}

type Values = Record<string, string | number | boolean>;

/** The mapping of one customer: what each CRM should hold (null and "" are cleared, HubSpot keeps text). */
function mapped(customer: CanonicalCustomer, mapping: Record<string, string>, text: boolean): Values {
  const out: Values = {};
  for (const [name, field] of Object.entries(mapping)) {
    const value = customer[field];
    if (value === null || value === '' || value === undefined) continue;
    out[name] = text ? String(value) : (value as string | number | boolean);
  }
  return out;
}

/** Every customer Nutcache has, mapped; every deleted one as last mapped, with the deletion's constants. */
function expectedRecords(
  current: Map<number, CanonicalCustomer>,
  deleted: Map<number, CanonicalCustomer>,
): { hubspot: Map<string, Values>; salesforce: Map<string, Values> } {
  const hubspot = new Map<string, Values>();
  const salesforce = new Map<string, Values>();
  const add = (customer: CanonicalCustomer, gone: boolean) => {
    const key = String(customer.id);
    hubspot.set(key, {
      ...mapped(customer, HUBSPOT_PROPERTIES, true),
      ...(gone ? HUBSPOT_DELETED : {}),
      nutcache_id: key,
    });
    salesforce.set(key, {
      ...mapped(customer, SALESFORCE_FIELDS, false),
      ...(gone ? SALESFORCE_DELETED : {}),
      Nutcache_Id__c: key,
    });
  };
  for (const customer of current.values()) add(customer, false);
  for (const customer of deleted.values()) add(customer, true);
  return { hubspot, salesforce };
}

function recordsOf(sandbox: Sandbox) {
  const byKey = (records: { key: string; properties: Readonly<Values> }[]) =>
    new Map(records.map((r) => [r.key, { ...r.properties }]));
  return {
    hubspot: byKey(sandbox.crm.hubspot('companies')),
    salesforce: byKey(sandbox.crm.salesforce('Account')),
  };
}

/** The events in another order: customers interleaved at random, each customer's events still in sequence order, each sent twice. */
function replayOrder(events: readonly EventBridgeEvent[], seed: number): EventBridgeEvent[] {
  const random = seededRandom(seed);
  const queues = new Map<number, EventBridgeEvent[]>();
  for (const event of events) {
    const detail = event.detail as { customerId: number };
    queues.set(detail.customerId, [...(queues.get(detail.customerId) ?? []), event]);
  }
  const out: EventBridgeEvent[] = [];
  while (queues.size > 0) {
    const ids = [...queues.keys()];
    const id = ids[Math.floor(random() * ids.length)] as number;
    const queue = queues.get(id) as EventBridgeEvent[];
    const next = queue.shift() as EventBridgeEvent;
    out.push(next, next);
    if (queue.length === 0) queues.delete(id);
  }
  return out;
}

function entryOf(event: EventBridgeEvent): BusEntry {
  const { source, time, resources } = event;
  return toBusEntry({
    source,
    time,
    resources,
    detailType: event['detail-type'],
    detail: event.detail as CustomerChangeDetail,
  });
}

describe('CRM sync rules, locally: sandbox → poll --rules → CRM stand-in', () => {
  let sandbox: Sandbox;
  let dir: string;
  let rulesFile: string;
  let eventsFile: string;
  let env: Record<string, string>;
  const deleted = new Map<number, CanonicalCustomer>();

  const poll = () =>
    runCli(
      [
        'poll',
        '--base-url',
        sandbox.url,
        '--state-dir',
        dir,
        '--events-file',
        eventsFile,
        '--rules',
        rulesFile,
      ],
      env,
    );
  const events = (): EventBridgeEvent[] =>
    readFileSync(eventsFile, 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => eventBridgeEventSchema.parse(JSON.parse(line)));
  const expectCrmEqualsNutcache = (target: Sandbox = sandbox) => {
    const expected = expectedRecords(canonicalCustomersOf(sandbox), deleted);
    const actual = recordsOf(target);
    expect(actual.hubspot).toEqual(expected.hubspot);
    expect(actual.salesforce).toEqual(expected.salesforce);
  };

  beforeAll(async () => {
    sandbox = await startSandbox();
    dir = mkdtempSync(join(tmpdir(), 'nutcache-cdc-crm-'));
    rulesFile = join(dir, 'crm-rules.yaml');
    eventsFile = join(dir, 'events.jsonl');
    writeFileSync(rulesFile, rulesYaml(sandbox));
    env = {
      HOME: dir,
      ...credentialsOf(sandbox),
      HUBSPOT_TOKEN: sandbox.crm.tokens.hubspot,
      SALESFORCE_ACCESS_TOKEN: sandbox.crm.tokens.salesforce,
    };
  });

  afterAll(async () => {
    await sandbox?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps both CRMs equal to the mapping of Nutcache customers through creations, updates, casing flips and a deletion', async () => {
    const first = await poll();
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain('CRM rules companies-to-hubspot, accounts-to-salesforce of');
    expect(sandbox.crm.hubspot('companies')).toHaveLength(8);
    expectCrmEqualsNutcache();

    const ids = sandbox.list().map((c) => c.id);
    const created = sandbox.create({
      name: 'O"Brien \\ Sons\nLtd',
      phone: null,
      city: 'Montréal',
      status: 0,
    });
    sandbox.create({ name: 'Tyrell Group', phone: '', city: null, status: 1 });
    sandbox.update(ids[0] as number, { phone: null, city: '' });
    sandbox.update(ids[1] as number, { phone: '514-555-0101', status: 1 });
    const second = await poll();
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/2 created, 2 updated/);
    expect(sandbox.crm.hubspot('companies').find((r) => r.key === String(created.id))?.properties.name).toBe(
      'O"Brien \\ Sons\nLtd',
    );
    expectCrmEqualsNutcache();

    const requestsBefore = sandbox.crm.requests.length;
    sandbox.setKeyCasing('pascal');
    const third = await poll();
    expect(third.code, third.stderr).toBe(0);
    expect(sandbox.crm.requests.length).toBe(requestsBefore);

    const goneId = ids[2] as number;
    deleted.set(goneId, canonicalCustomersOf(sandbox).get(goneId) as CanonicalCustomer);
    sandbox.remove(goneId);
    sandbox.setKeyCasing('lower');
    sandbox.update(ids[3] as number, { city: 'Lyon' });
    const fourth = await poll();
    expect(fourth.code, fourth.stderr).toBe(0);
    expect(fourth.stderr).toMatch(/0 created, 1 updated, 1 deleted/);
    expectCrmEqualsNutcache();
    expect(sandbox.crm.requests.every((r) => r.status < 300)).toBe(true);
  }, 60_000);

  it('leaves the CRMs equal when every event is replayed, duplicated and interleaved, over them or into empty ones', async () => {
    const all = events();
    expect(all.length).toBeGreaterThan(10);
    const fresh = await startSandbox({ generated: 0, documented: false });
    try {
      for (const [seed, target] of [
        [1, sandbox],
        [2, fresh],
        [3, fresh],
      ] as const) {
        const rules = parseRulesText(
          rulesYaml(sandbox)
            .replaceAll(sandbox.crm.hubspotUrl, target.crm.hubspotUrl)
            .replaceAll(sandbox.crm.salesforceUrl, target.crm.salesforceUrl),
          'replay.yaml',
        );
        const bus = new CrmRulesBus({ rules, tokens: target.crm.tokens });
        for (const event of replayOrder(all, seed)) {
          expect(await bus.putEvents([entryOf(event)])).toEqual([{ ok: true }]);
        }
        expectCrmEqualsNutcache(target);
      }
    } finally {
      await fresh.close();
    }
  }, 60_000);
});
