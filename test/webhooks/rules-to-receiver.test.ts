/**
 * Done-when: a rule declared in a rules file and a rule declared in code (a CustomerSyncRule construct) each
 * bring a matching customer change to a local receiver as a verified Standard Webhooks request, and leave
 * the others out. The code rule's pattern is read back from the synthesised CloudFormation template.
 */
import { readFileSync } from 'node:fs';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CustomerSyncRule } from '../../infra/constructs/customer-sync-rule.ts';
import type { EventBridgeEvent } from '../../shared/events/contract.ts';
import type { BusEntry } from '../../shared/ports.ts';
import { compileRulePattern } from '../../shared/rules/compile.ts';
import { parseRulesText } from '../../shared/rules/model.ts';
import { generateWebhookSecret } from '../../shared/webhooks/signing.ts';
import { WebhookBus } from '../../shared/webhooks/webhook-bus.ts';
import { customer, customerEvent } from '../rules/customer-events.ts';
import { type Receiver, startReceiver } from './receiver.ts';

function entryOf(event: EventBridgeEvent): BusEntry {
  return {
    source: event.source,
    detailType: event['detail-type'],
    detail: JSON.stringify(event.detail),
    time: new Date(event.time),
    resources: event.resources,
  };
}

const deactivated = customerEvent(
  'updated',
  customer({ status: 0 }),
  customer({ status: 1 }),
  'evt-deactivated',
);
const renamed = customerEvent('updated', customer(), customer({ name: 'Acme SA' }), 'evt-renamed');
const phone = customerEvent('updated', customer(), customer({ phone: '+33 1' }), 'evt-phone');
const created = customerEvent('created', null, customer({ country: 40 }), 'evt-created');
const all = [deactivated, renamed, phone, created].map(entryOf);

const secret = generateWebhookSecret();
let receiver: Receiver;
beforeEach(async () => {
  receiver = await startReceiver(secret);
});
afterEach(async () => {
  await receiver.close();
});

function deliveredIds() {
  expect(receiver.received.every((r) => r.verified.ok)).toBe(true);
  return receiver.received.map((r) => r.headers['webhook-id']);
}

describe('sync rules delivered as signed webhooks to a local receiver', () => {
  it('a rule from the rules file', async () => {
    const rules = parseRulesText(
      readFileSync(new URL('../../examples/sync-rules.yaml', import.meta.url), 'utf8'),
      'examples/sync-rules.yaml',
    );
    const rule = rules.find((r) => r.name === 'contact-details-changed');
    if (!rule) throw new Error('example rule missing');
    const bus = new WebhookBus({ url: receiver.url, secret, pattern: compileRulePattern(rule) });
    const results = await bus.putEvents(all);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(deliveredIds()).toEqual(['evt-renamed']);
    const payload = receiver.received[0]?.verified;
    expect(payload?.ok && payload.payload).toMatchObject({
      'detail-type': 'Customer Updated',
      source: 'nutcache.customers',
      detail: { eventId: 'evt-renamed', changedFields: ['name'], after: { name: 'Acme SA' } },
    });
  });

  it('a rule declared in code, with the pattern taken from the synthesised template', async () => {
    const app = new App();
    const stack = new Stack(app, 'CodeRule');
    new CustomerSyncRule(stack, 'Deactivated', {
      name: 'customer-deactivated-in-code',
      changeTypes: ['updated'],
      changedFields: ['status'],
      before: { status: 0 },
      after: { status: { equals: 1 } },
      eventBus: new events.EventBus(stack, 'Bus'),
      environmentName: 'dev',
      target: { kind: 'sqs', queue: new sqs.Queue(stack, 'Crm') },
    });
    const [rule] = Object.values(Template.fromStack(stack).findResources('AWS::Events::Rule'));
    const pattern = JSON.parse((rule as { Properties: { EventPattern: string } }).Properties.EventPattern);
    const bus = new WebhookBus({ url: receiver.url, secret: [secret, generateWebhookSecret()], pattern });
    await bus.putEvents(all);
    expect(deliveredIds()).toEqual(['evt-deactivated']);
  });

  it('every event, when no rule filters (npm start -- --webhook-url …)', async () => {
    const bus = new WebhookBus({ url: receiver.url, secret });
    await bus.putEvents(all);
    expect(deliveredIds()).toEqual(['evt-deactivated', 'evt-renamed', 'evt-phone', 'evt-created']);
    expect(bus.delivered).toBe(4);
  });

  it('reports failures with retryable codes, and 410 as permanent, disabling the bus', async () => {
    const bus = new WebhookBus({ url: receiver.url, secret });
    receiver.script.push({ status: 500 }, { status: 429, headers: { 'retry-after': '3' } }, { status: 410 });
    const results = await bus.putEvents(all);
    expect(results.map((r) => (r.ok ? 'ok' : r.errorCode))).toEqual([
      'InternalFailure',
      'ThrottlingException',
      'AccessDenied',
      'AccessDenied',
    ]);
    expect(bus.disabled).toBe(true);
    expect(receiver.received).toHaveLength(3);
  });

  it('refuses plain http to a non-loopback host', () => {
    expect(() => new WebhookBus({ url: 'http://crm.example.com/hook', secret })).toThrow(/loopback/);
    expect(() => new WebhookBus({ url: receiver.url, secret: 'not-a-secret' })).toThrow(/^webhook secret/);
  });
});
