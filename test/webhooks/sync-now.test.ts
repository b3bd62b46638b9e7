import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { PollerInput } from '../../shared/config/env.ts';
import type { Log } from '../../shared/ports.ts';
import { createTable } from '../../shared/store/create-table.ts';
import { type LocalDynamo, startLocalDynamo } from '../../shared/store/local-dynamo.ts';
import {
  DynamoDbReplayGuard,
  InMemoryReplayGuard,
  type ReplayGuard,
} from '../../shared/webhooks/replay-guard.ts';
import { generateWebhookSecret, signWebhook } from '../../shared/webhooks/signing.ts';
import {
  handleSyncNow,
  handleSyncNowEvent,
  MAX_WEBHOOK_ID_LENGTH,
  type SyncNowDeps,
  type SyncNowOrganization,
  type SyncNowRequest,
} from '../../shared/webhooks/sync-now.ts';

const ORG = 'org-0b7d';
const NOW = Date.parse('2026-01-15T10:00:00Z');
const secret = generateWebhookSecret();

/** A registry of these organizations (GUIDs compare in any letter case, as the registry's do). */
function registered(...organizations: (string | SyncNowOrganization)[]): SyncNowDeps['findOrganization'] {
  const all = organizations.map((o) =>
    typeof o === 'string' ? { organizationGuid: o, state: 'active' as const, apiKeyGroup: 'key-1' } : o,
  );
  return async (guid) => all.find((o) => o.organizationGuid.toUpperCase() === guid.toUpperCase());
}

interface LogLine {
  readonly level: string;
  readonly text: string;
}

function harness(overrides: Partial<SyncNowDeps> = {}) {
  const started: PollerInput[] = [];
  const logs: LogLine[] = [];
  const log: Log = {
    debug: (m, ...e) => logs.push({ level: 'debug', text: JSON.stringify([m, ...e]) }),
    info: (m, ...e) => logs.push({ level: 'info', text: JSON.stringify([m, ...e]) }),
    warn: (m, ...e) => logs.push({ level: 'warn', text: JSON.stringify([m, ...e]) }),
    error: (m, ...e) => logs.push({ level: 'error', text: JSON.stringify([m, ...e]) }),
  };
  let run = 0;
  const deps: SyncNowDeps = {
    secrets: async () => [secret],
    replay: new InMemoryReplayGuard(),
    findOrganization: registered(ORG),
    startRun: async (input) => {
      started.push(input);
    },
    now: () => NOW,
    newRunId: () => `run-${++run}`,
    log,
    ...overrides,
  };
  return { deps, started, logs };
}

function signed(
  body: string,
  options: { id?: string; at?: number; key?: string; method?: string } = {},
): SyncNowRequest {
  const headers = signWebhook(options.id ?? 'msg-1', options.at ?? NOW, body, [options.key ?? secret]);
  return { method: options.method ?? 'POST', headers: { ...headers }, body };
}

const good = JSON.stringify({ organizationGuid: ORG, mode: 'resync' });

describe('inbound sync-now webhook', () => {
  it('starts the run asynchronously and answers 202 with its run id', async () => {
    const { deps, started } = harness();
    const response = await handleSyncNow(signed(good), deps);
    expect(response.statusCode).toBe(202);
    expect(JSON.parse(response.body)).toEqual({ runId: 'run-1', organizationGuid: ORG, mode: 'resync' });
    expect(started).toEqual([{ organizationGuid: ORG, mode: 'resync', pollId: 'run-1' }]);
  });

  it('accepts the organization GUID in any letter case, as the poller does, and runs the registered one', async () => {
    const guid = '846E176E-7C4B-4BFD-A894-C98F2988927E';
    const { deps, started } = harness({ findOrganization: registered(guid) });
    const response = await handleSyncNow(
      signed(JSON.stringify({ organizationGuid: guid.toLowerCase(), mode: 'poll' })),
      deps,
    );
    expect(response.statusCode).toBe(202);
    expect(JSON.parse(response.body).organizationGuid).toBe(guid);
    expect(started).toEqual([{ organizationGuid: guid, mode: 'poll', pollId: 'run-1' }]);
  });

  it('answers 409 for a paused organization and starts nothing, so a paused organization is never polled', async () => {
    const { deps, started } = harness({
      findOrganization: registered({ organizationGuid: ORG, state: 'paused', apiKeyGroup: 'key-1' }),
    });
    const response = await handleSyncNow(signed(good), deps);
    expect(response.statusCode).toBe(409);
    expect(JSON.parse(response.body).error).toMatch(/paused.*orgs resume/);
    expect(started).toEqual([]);
  });

  it('hands the run the organization as registered (its API-key group orders it after the polls sharing its key)', async () => {
    const groups: string[] = [];
    const { deps } = harness({
      findOrganization: registered({ organizationGuid: ORG, state: 'active', apiKeyGroup: 'agency-key' }),
      startRun: async (_input, organization) => {
        groups.push(organization.apiKeyGroup);
      },
    });
    expect((await handleSyncNow(signed(good), deps)).statusCode).toBe(202);
    expect(groups).toEqual(['agency-key']);
  });

  it.each([
    ['a bad signature', () => signed(good, { key: generateWebhookSecret() }), /no valid signature/],
    [
      'a tampered body',
      () => ({ ...signed(good), body: good.replace('resync', 'poll') }),
      /no valid signature/,
    ],
    ['a timestamp 6 minutes old', () => signed(good, { at: NOW - 6 * 60_000 }), /more than 5 minutes/],
    ['a timestamp 6 minutes ahead', () => signed(good, { at: NOW + 6 * 60_000 }), /more than 5 minutes/],
    ['missing signature headers', () => ({ method: 'POST', headers: {}, body: good }), /missing webhook-id/],
  ])('answers 401 to %s and starts nothing', async (_name, request, message) => {
    const { deps, started } = harness();
    const response = await handleSyncNow(request(), deps);
    expect(response.statusCode).toBe(401);
    expect(JSON.parse(response.body).error).toMatch(message);
    expect(started).toEqual([]);
  });

  it.each([
    ['a body that is not JSON', '{"organizationGuid":', /not valid JSON/],
    ['an unknown mode', JSON.stringify({ organizationGuid: ORG, mode: 'full' }), /mode/],
    ['a missing organizationGuid', JSON.stringify({ mode: 'poll' }), /organizationGuid/],
    [
      'an extra field',
      JSON.stringify({ organizationGuid: ORG, mode: 'poll', force: true }),
      /unexpected field/,
    ],
    [
      'an organization that is not registered',
      JSON.stringify({ organizationGuid: 'other', mode: 'poll' }),
      /unknown organizationGuid/,
    ],
  ])('answers 400 with a clear message to %s', async (_name, body, message) => {
    const { deps, started } = harness();
    const response = await handleSyncNow(signed(body), deps);
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body).error).toMatch(message);
    expect(started).toEqual([]);
  });

  it('rejects a replayed webhook-id with 409, even re-signed with a fresh timestamp', async () => {
    const { deps, started } = harness();
    expect((await handleSyncNow(signed(good), deps)).statusCode).toBe(202);
    expect((await handleSyncNow(signed(good), deps)).statusCode).toBe(409);
    expect((await handleSyncNow(signed(good, { at: NOW + 60_000 }), deps)).statusCode).toBe(409);
    expect((await handleSyncNow(signed(good, { id: 'msg-2' }), deps)).statusCode).toBe(202);
    expect(started).toHaveLength(2);
  });

  it('answers 405 to other methods and 413 to oversized bodies', async () => {
    const { deps } = harness();
    expect((await handleSyncNow(signed(good, { method: 'GET' }), deps)).statusCode).toBe(405);
    const huge = JSON.stringify({ organizationGuid: ORG, mode: 'poll', pad: 'x'.repeat(5000) });
    expect((await handleSyncNow(signed(huge), deps)).statusCode).toBe(413);
  });

  it('answers 500 when the poller cannot be invoked, and accepts the retry of the same webhook-id', async () => {
    let fail = true;
    const { deps, started } = harness({
      startRun: async (input) => {
        if (fail) throw Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException' });
        started.push(input);
      },
    });
    expect((await handleSyncNow(signed(good), deps)).statusCode).toBe(500);
    fail = false;
    expect((await handleSyncNow(signed(good), deps)).statusCode).toBe(202);
    expect(started).toHaveLength(1);
  });

  it('never logs the request verbatim', async () => {
    const { deps, logs } = harness();
    const marker = 'VERBATIM-MARKER';
    const requests = [
      signed(JSON.stringify({ organizationGuid: marker, mode: 'poll' })),
      signed(JSON.stringify({ organizationGuid: ORG, mode: marker })),
      { ...signed(good, { id: marker }), body: `${good}${marker}` },
      signed(good, { id: marker }),
      signed(good, { id: marker }),
    ];
    for (const request of requests) await handleSyncNow(request, deps);
    expect(logs.length).toBeGreaterThanOrEqual(requests.length);
    for (const line of logs) {
      expect(line.text).not.toContain(marker);
      expect(line.text).not.toContain(secret);
      expect(line.text).not.toContain('v1,');
    }
  });

  it('never repeats the name of an unexpected field, in the logs or the answer', async () => {
    const { deps, logs } = harness();
    const marker = 'VERBATIM-MARKER';
    const response = await handleSyncNow(
      signed(JSON.stringify({ organizationGuid: ORG, mode: 'poll', [marker]: 1, [`${marker}-2`]: 2 })),
      deps,
    );
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body).error).toMatch(/unexpected field/);
    expect(response.body).not.toContain(marker);
    expect(logs.length).toBeGreaterThan(0);
    for (const line of logs) expect(line.text).not.toContain(marker);
    expect(logs.at(-1)?.text).toContain('unrecognized_keys');
  });

  it('answers 400, not a throw, to a correctly signed request whose webhook-id is too long', async () => {
    const { deps, started } = harness();
    const response = await handleSyncNow(signed(good, { id: 'x'.repeat(MAX_WEBHOOK_ID_LENGTH + 1) }), deps);
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body).error).toBe(
      `webhook-id longer than ${MAX_WEBHOOK_ID_LENGTH} characters`,
    );
    expect(started).toEqual([]);
    expect(
      (await handleSyncNow(signed(good, { id: 'x'.repeat(MAX_WEBHOOK_ID_LENGTH) }), deps)).statusCode,
    ).toBe(202);
  });

  it.each([
    ['without headers', { requestContext: { http: { method: 'POST' } }, body: good }],
    ['without a request context', { headers: {}, body: good }],
    ['that is not an object', 'POST /'],
  ])('answers 400, not a throw, to a function URL event %s', async (_name, event) => {
    const { deps, started } = harness();
    const response = await handleSyncNowEvent(event, deps);
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body).error).toMatch(/not a function URL request/);
    expect(started).toEqual([]);
  });

  it('reads a function URL event: method, headers and a base64 body', async () => {
    const { deps, started } = harness();
    const request = signed(good);
    const event = {
      requestContext: { http: { method: 'POST' } },
      headers: request.headers,
      body: Buffer.from(good).toString('base64'),
      isBase64Encoded: true,
    };
    expect((await handleSyncNowEvent(event, deps)).statusCode).toBe(202);
    expect(started).toHaveLength(1);
  });
});

describe('replay guard on DynamoDB (single table, conditional put + TTL)', () => {
  let dynamo: LocalDynamo;
  let guard: ReplayGuard;
  let documents: DynamoDBDocumentClient;
  beforeAll(async () => {
    dynamo = await startLocalDynamo();
    await createTable(dynamo.client, 'cdc');
    documents = DynamoDBDocumentClient.from(dynamo.client);
  });
  afterAll(async () => {
    await dynamo.close();
  });
  beforeEach(() => {
    guard = new DynamoDbReplayGuard(documents, 'cdc');
  });

  it('claims an id once, stores it as WEBHOOK#<id> / INBOUND with expiresAt', async () => {
    expect(await guard.claim('abc', 2_000, 1_000)).toBe(true);
    expect(await guard.claim('abc', 2_000, 1_000)).toBe(false);
    const item = await documents.send(
      new GetCommand({ TableName: 'cdc', Key: { pk: 'WEBHOOK#abc', sk: 'INBOUND' } }),
    );
    expect(item.Item).toEqual({ pk: 'WEBHOOK#abc', sk: 'INBOUND', expiresAt: 2_000 });
  });

  it('lets exactly one of two concurrent claims win', async () => {
    const results = await Promise.all([guard.claim('race', 2_000, 1_000), guard.claim('race', 2_000, 1_000)]);
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('treats an expired claim that TTL has not yet deleted as free, and a released id as free', async () => {
    expect(await guard.claim('old', 1_500, 1_000)).toBe(true);
    expect(await guard.claim('old', 3_000, 2_000)).toBe(true);
    await guard.release('old');
    expect(await guard.claim('old', 3_000, 2_000)).toBe(true);
  });

  it('answers 400 to a signed 3,000-character webhook-id instead of failing on the DynamoDB key size', async () => {
    const { deps } = harness({ replay: guard });
    const response = await handleSyncNow(signed(good, { id: 'i'.repeat(3000) }), deps);
    expect(response.statusCode).toBe(400);
  });

  it('rejects a replay through the handler when backed by DynamoDB', async () => {
    const { deps } = harness({ replay: guard });
    expect((await handleSyncNow(signed(good, { id: 'ddb-1' }), deps)).statusCode).toBe(202);
    expect((await handleSyncNow(signed(good, { id: 'ddb-1' }), deps)).statusCode).toBe(409);
  });
});
