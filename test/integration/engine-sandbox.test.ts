/**
 * The change-detection engine end to end over real protocols on loopback: the real Nutcache client
 * against the sandbox over HTTP, the DynamoDB snapshot store against dynalite, and an in-memory bus. The
 * engine's decisions are covered with in-memory fakes in test/engine/poll.test.ts; these tests check that
 * the promises still hold through the real adapters: paging, key casing, HTTP faults, BatchWriteItem
 * UnprocessedItems, PutEvents partial failures, and crashes between the steps of a poll.
 *
 * Time is virtual (one TestClock for client, store and engine): backoff and Retry-After cost nothing,
 * and a lapsed lease is reached by advancing the clock.
 */
import type { BatchWriteItemCommandInput, BatchWriteItemCommandOutput } from '@aws-sdk/client-dynamodb';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KeyCasing } from '../../sandbox/faults.ts';
import { type SandboxOptions, startSandbox } from '../../sandbox/server.ts';
import { type PollOptions, type PollResult, runPoll } from '../../shared/engine/poll.ts';
import { ANOMALY_DETAIL_TYPE, type CustomerChangeDetail } from '../../shared/events/contract.ts';
import { NutcacheClient } from '../../shared/nutcache/client.ts';
import { SlidingWindowLimiter } from '../../shared/nutcache/rate-limiter.ts';
import type { Log } from '../../shared/ports.ts';
import { MemoryDeadLetterSink } from '../../shared/publish/dead-letter.ts';
import { MemoryBus } from '../../shared/publish/memory.ts';
import { createTable } from '../../shared/store/create-table.ts';
import { createDocumentClient, DynamoSnapshotStore } from '../../shared/store/dynamodb.ts';
import { type LocalDynamo, startLocalDynamo } from '../../shared/store/local-dynamo.ts';
import { RecordingMetrics } from '../../shared/util/metrics.ts';
import { TestClock } from '../support/clock.ts';
import { ContractConsumer } from '../support/consumer.ts';
import { withStoreFaults } from '../support/store-faults.ts';
import { canonicalCustomersOf, changesOf, customerDetails, expectStableEventIds } from './helpers.ts';

const silent: Log = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

let dynamo: LocalDynamo;
let tables = 0;

beforeAll(async () => {
  dynamo = await startLocalDynamo();
});

afterAll(async () => {
  await dynamo?.close();
});

/** A DynamoDB client of its own (so a test can add middleware to it) on the shared dynalite. */
function dynamoClient(): DynamoDBClient {
  return new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
}

interface EnvOptions {
  readonly sandbox?: SandboxOptions;
  /** Called with the store's DynamoDB client before the store is built (e.g. to add middleware). */
  readonly onDynamoClient?: (client: DynamoDBClient) => void;
}

async function setup(options: EnvOptions = {}) {
  const sandbox = await startSandbox({ rateLimit: null, ...options.sandbox });
  const clock = new TestClock();
  const client = new NutcacheClient({
    baseUrl: sandbox.url,
    organizationGuid: sandbox.organizationGuid,
    credentials: sandbox.credentials,
    clock,
    rateLimit: new SlidingWindowLimiter({ perSecond: 1_000_000, perMinute: 1_000_000 }, clock),
    random: () => 0.5,
    requestTimeoutMs: 5_000,
  });
  const ddb = dynamoClient();
  options.onDynamoClient?.(ddb);
  const tableName = `engine-${++tables}`;
  await createTable(ddb, tableName);
  const store = withStoreFaults(
    new DynamoSnapshotStore({ client: createDocumentClient(ddb), tableName, clock }),
  );
  const bus = new MemoryBus();
  const deadLetters = new MemoryDeadLetterSink(clock);
  const metrics = new RecordingMetrics();
  const org = sandbox.organizationGuid;
  const poll = (overrides: Partial<PollOptions> = {}): Promise<PollResult> =>
    runPoll(
      { source: client, store, bus, deadLetters, clock, log: silent, metrics },
      { organizationGuid: org, pageLimit: 10, ...overrides },
    );
  /** Every customer event the bus accepted, checked against the contract. */
  const details = (): CustomerChangeDetail[] => customerDetails(bus.accepted);
  const since = (n: number): CustomerChangeDetail[] => details().slice(n);
  const consumerView = () => new ContractConsumer().applyAll(bus.accepted).customers;
  const sourceView = () => canonicalCustomersOf(sandbox);
  const close = async () => {
    await sandbox.close();
    ddb.destroy();
  };
  return {
    sandbox,
    clock,
    client,
    store,
    bus,
    deadLetters,
    metrics,
    org,
    poll,
    details,
    since,
    consumerView,
    sourceView,
    close,
  };
}

type Env = Awaited<ReturnType<typeof setup>>;
let env: Env | undefined;

afterEach(async () => {
  await env?.close();
  env = undefined;
});

/** Starts an environment whose first poll (snapshots) has been committed. */
async function initialised(options: EnvOptions = {}): Promise<Env> {
  env = await setup(options);
  const first = await env.poll();
  expect(first.outcome).toBe('success');
  return env;
}

/** 8 documented customers plus 30 generated ones: four pages of 10. */
const FOUR_PAGES: EnvOptions = { sandbox: { generated: 30, seed: 7 } };

function idsOf(e: Env): number[] {
  return e.sandbox.list().map((c) => c.id);
}

function at(ids: readonly number[], i: number): number {
  const id = ids[i];
  if (id === undefined) throw new Error(`no customer at position ${i}`);
  return id;
}

describe('engine × sandbox × dynalite: what consumers receive', () => {
  it('publishes a Customer Snapshot for every seed customer on the first poll', async () => {
    env = await setup();
    const result = await env.poll();
    expect(result.outcome).toBe('success');
    expect(result.nutcacheRequests).toBe(1);
    const details = env.details();
    expect(env.bus.accepted.map((e) => e['detail-type'])).toEqual(Array(8).fill('Customer Snapshot'));
    expect(details.map((d) => d.customerId).sort()).toEqual(idsOf(env).sort());
    expect(details.every((d) => d.before === null && d.after !== null)).toBe(true);
    expect(env.consumerView()).toEqual(env.sourceView());
  });

  it('reports a creation, a field-by-field update and a deletion, and nothing else', async () => {
    const e = await initialised();
    const ids = idsOf(e);
    const updated = at(ids, 2);
    const deleted = at(ids, 5);
    const beforeUpdate = e.sourceView().get(updated);
    const n = e.details().length;
    const created = e.sandbox.create({
      name: 'Nouvelle Cie',
      email: 'bonjour@nouvelle.example',
      city: 'Laval',
    });
    e.sandbox.update(updated, { email: 'changed@example.com', Notes: 'VIP' });
    e.sandbox.remove(deleted);

    const result = await e.poll();
    expect(result.outcome).toBe('success');
    const events = e.since(n);
    expect(changesOf(events)).toEqual(
      changesOf([
        { changeType: 'created', customerId: created.id },
        { changeType: 'updated', customerId: updated },
        { changeType: 'deleted', customerId: deleted },
      ] as CustomerChangeDetail[]),
    );
    const creation = events.find((d) => d.changeType === 'created');
    expect(creation?.after).toEqual(e.sourceView().get(created.id));
    expect(creation?.after).toMatchObject({
      name: 'Nouvelle Cie',
      email: 'bonjour@nouvelle.example',
      city: 'Laval',
    });
    const update = events.find((d) => d.changeType === 'updated');
    expect(update?.changedFields).toEqual(['email', 'notes']);
    expect(update?.changes).toEqual({
      email: { before: beforeUpdate?.email, after: 'changed@example.com' },
      notes: { before: beforeUpdate?.notes, after: 'VIP' },
    });
    expect(update?.before).toEqual(beforeUpdate);
    const deletion = events.find((d) => d.changeType === 'deleted');
    expect(deletion?.before?.id).toBe(deleted);
    expect(deletion?.after).toBeNull();
    expect(e.consumerView()).toEqual(e.sourceView());

    // The changes are committed: the next poll finds nothing to say and writes nothing.
    const quiet = await e.poll();
    expect(e.since(n)).toHaveLength(3);
    expect(quiet.counts.committed).toBe(0);
  });

  it.each<[string, KeyCasing]>([
    ['lower', 'lower'],
    ['upper', 'upper'],
    ['attribute-table', 'attribute-table'],
    ['pascal', 'pascal'],
    ['mixed', 'mixed'],
    ['a per-key map', { Notes: 'NOTES', zip_code: 'ZIP_CODE', Organization: 'organization' }],
  ])('publishes nothing when Nutcache changes its key casing to %s between polls', async (_name, casing) => {
    const e = await initialised(FOUR_PAGES);
    const n = e.bus.accepted.length;
    e.sandbox.setKeyCasing(casing);
    const result = await e.poll();
    expect(result.outcome).toBe('success');
    expect(result.counts.unchanged).toBe(38);
    expect(result.counts.invalid).toBe(0);
    expect(result.counts.committed).toBe(0);
    expect(e.bus.accepted.length).toBe(n);
  });
});

describe('engine × sandbox × dynalite: page shifts during the listing', () => {
  it('neither deletes nor misses a customer pushed back a page by a deletion', async () => {
    const e = await initialised(FOUR_PAGES);
    const ids = idsOf(e);
    const removedDuringListing = at(ids, 3); // on page 1
    const skipped = at(ids, 10); // first of page 2: moves to page 1 once page 1 was served, never listed
    const n = e.details().length;
    const cityBefore = e.sourceView().get(skipped)?.city;
    e.sandbox.update(skipped, { city: 'Gatineau' });
    e.sandbox.afterPage(1, () => e.sandbox.remove(removedDuringListing));

    const shifted = await e.poll();
    expect(shifted.outcome).toBe('success');
    expect(shifted.counts.deletionCandidates).toBe(1);
    expect(shifted.counts.deletionsConfirmedAbsent).toBe(0);
    // The skipped customer was fetched on its own, found changed, and reported; nobody was deleted.
    expect(changesOf(e.since(n))).toEqual([['updated', skipped]]);
    expect(e.since(n)[0]?.changes).toEqual({ city: { before: cityBefore, after: 'Gatineau' } });

    // The customer deleted behind the listing's back is reported by the next poll, and only that.
    await e.poll();
    expect(changesOf(e.since(n))).toEqual([
      ['deleted', removedDuringListing],
      ['updated', skipped],
    ]);
    expect(e.consumerView()).toEqual(e.sourceView());
  });

  it('counts a customer pushed forward by an insertion at the front once, and misses no change', async () => {
    const e = await initialised(FOUR_PAGES);
    const ids = idsOf(e);
    const repeated = at(ids, 9); // last of page 1: listed again as the first of page 2
    const changedLater = at(ids, 25); // on page 3
    const n = e.details().length;
    e.sandbox.update(repeated, { status: 1 });
    e.sandbox.update(changedLater, { phone: '+1 514 555 0199' });
    e.sandbox.afterPage(1, () => e.sandbox.create({ id: 1, name: 'Front Inc.' }));

    const shifted = await e.poll();
    expect(shifted.outcome).toBe('success');
    expect(shifted.counts.duplicatesInListing).toBe(1);
    expect(shifted.counts.deletionCandidates).toBe(0);
    expect(changesOf(e.since(n))).toEqual([
      ['updated', repeated],
      ['updated', changedLater],
    ]);

    // The customer inserted behind the listing's back is found by the next poll.
    await e.poll();
    expect(changesOf(e.since(n))).toEqual([
      ['created', 1],
      ['updated', repeated],
      ['updated', changedLater],
    ]);
    expect(e.consumerView()).toEqual(e.sourceView());
  });
});

/** Changes made before an interrupted poll: 3 creations, 10 updates, 2 deletions (15 events, 2 PutEvents). */
function makeFifteenChanges(e: Env): [string, number][] {
  const ids = idsOf(e);
  const expected: [string, number][] = [];
  for (const name of ['Alpha', 'Beta', 'Gamma']) {
    expected.push(['created', e.sandbox.create({ name }).id]);
  }
  for (let i = 0; i < 10; i++) {
    const id = at(ids, i * 3);
    e.sandbox.update(id, { contact: `Contact ${i}`, status: 1 });
    expected.push(['updated', id]);
  }
  for (const i of [4, 35]) {
    e.sandbox.remove(at(ids, i));
    expected.push(['deleted', at(ids, i)]);
  }
  return changesOf(
    expected.map(([changeType, customerId]) => ({ changeType, customerId }) as CustomerChangeDetail),
  );
}

/** After any history: each expected change arrived under exactly one eventId, and the consumer agrees. */
function expectDeliveredOnce(e: Env, n: number, expected: [string, number][]): void {
  const distinct = expectStableEventIds(e.since(n));
  expect(changesOf(distinct)).toEqual(expected);
  expect(e.consumerView()).toEqual(e.sourceView());
}

type Interruption = {
  readonly name: string;
  /** Arms the fault; the poll that follows is interrupted. */
  readonly arm: (e: Env) => void;
};

const interruptions: Interruption[] = [
  {
    name: 'after listing (reading the snapshots to compare)',
    arm: (e) => e.store.failNext('getSnapshots', new Error('process died after listing')),
  },
  {
    name: 'after listing (writing the journal)',
    arm: (e) => e.store.failNext('writeJournal', new Error('process died before the journal')),
  },
  {
    name: 'mid-publish, after the bus took the first request but before the answer',
    arm: (e) => e.bus.crashAfterCalls(0, { acceptBeforeCrash: true }),
  },
  {
    name: 'mid-publish, after the bus took the second request but before the answer',
    arm: (e) => e.bus.crashAfterCalls(1, { acceptBeforeCrash: true }),
  },
  {
    name: 'mid-publish, with the second request lost',
    arm: (e) => e.bus.crashAfterCalls(1, { acceptBeforeCrash: false }),
  },
  {
    name: 'mid-commit, before the snapshots are written',
    arm: (e) => e.store.failNext('commit:snapshots', new Error('process died in commit')),
  },
  {
    name: 'mid-commit, with the snapshots written but not the index',
    arm: (e) => e.store.failNext('commit:index', new Error('process died in commit')),
  },
  {
    name: 'mid-commit of the second chunk, after the first chunk was committed',
    arm: (e) => e.store.failNext('commitSnapshots', new Error('process died in commit'), { skip: 1 }),
  },
  {
    name: 'before the journal is deleted',
    arm: (e) => e.store.failNext('deleteJournal', new Error('process died before cleaning up')),
  },
];

describe('engine × sandbox × dynalite: an interrupted poll and its rerun', () => {
  it.each(interruptions)(
    'loses nothing and keeps eventIds stable when a poll dies $name',
    async ({ arm }) => {
      const e = await initialised(FOUR_PAGES);
      const n = e.details().length;
      const expected = makeFifteenChanges(e);
      arm(e);
      // Chunks of 5 events: a poll journals, publishes and commits three times.
      const interrupted = await e.poll({ chunkSize: 5 });
      expect(interrupted.outcome).toBe('failed');

      const rerun = await e.poll({ chunkSize: 5 });
      expect(rerun.outcome).toBe('success');
      expectDeliveredOnce(e, n, expected);
      // Everything is committed: one more poll is silent.
      const after = e.bus.accepted.length;
      const quiet = await e.poll();
      expect(e.bus.accepted.length).toBe(after);
      expect(quiet.counts.committed).toBe(0);
      expect(quiet.counts.recoveredFromJournal).toBe(0);
    },
  );

  it('waits out the lease of a poll that died without releasing it, then finishes its work', async () => {
    const e = await initialised(FOUR_PAGES);
    const n = e.details().length;
    const expected = makeFifteenChanges(e);
    // A hard crash mid-publish: the process is gone, so the lease is not released either.
    e.bus.crashAfterCalls(1, { acceptBeforeCrash: true });
    e.store.failNext('releaseLease', new Error('process already dead'));
    expect((await e.poll()).outcome).toBe('failed');

    const blocked = await e.poll();
    expect(blocked.outcome).toBe('busy');
    expect(blocked.busyUntil).toBeGreaterThan(e.clock.now());
    e.clock.advance(61_000); // the dead poll's lease lapses within a minute
    const rerun = await e.poll();
    expect(rerun.outcome).toBe('success');
    expect(rerun.counts.recoveredFromJournal).toBeGreaterThan(0);
    expectDeliveredOnce(e, n, expected);
  });
});

describe('engine × sandbox × dynalite: one poll of an organization at a time', () => {
  it('lets exactly one of two simultaneous polls run; the other reports busy', async () => {
    const e = await initialised(FOUR_PAGES);
    const n = e.details().length;
    const expected = makeFifteenChanges(e);
    const outcomes = (await Promise.all([e.poll(), e.poll()])).map((r) => r.outcome).sort();
    expect(outcomes).toEqual(['busy', 'success']);
    expect(e.since(n)).toHaveLength(15);
    expectDeliveredOnce(e, n, expected);
  });

  it('stops without publishing when its lease lapsed mid-listing and another poll took over', async () => {
    const e = await initialised(FOUR_PAGES);
    const n = e.details().length;
    const expected = makeFifteenChanges(e);
    // Poll A stalls on page 2 long enough (in virtual time) for its lease to lapse.
    const stall = e.sandbox.inject({ kind: 'delay', ms: 1_000, page: 2 });
    e.sandbox.afterPage(1, () => e.clock.advance(61_000));
    const slow = e.poll();
    const waitUntil = Date.now() + 10_000;
    while (stall.hits === 0 && Date.now() < waitUntil) await new Promise((r) => setTimeout(r, 10));
    expect(stall.hits).toBe(1);
    // Poll B takes the lapsed lease and does the work.
    const takeover = await e.poll();
    expect(takeover.outcome).toBe('success');
    const afterTakeover = e.bus.accepted.length;

    const stale = await slow;
    expect(stale.outcome).toBe('failed');
    expect(stale.error).toMatch(/lease .* was lost/);
    expect(e.bus.accepted.length).toBe(afterTakeover);
    expectDeliveredOnce(e, n, expected);
    const quiet = await e.poll();
    expect(quiet.counts.committed).toBe(0);
    expect(e.bus.accepted.length).toBe(afterTakeover);
  });
});

describe('engine × sandbox × dynalite: partial failures of the bus and of DynamoDB', () => {
  it('re-sends only the PutEvents entries that were throttled, and delivers each change exactly once', async () => {
    const e = await initialised(FOUR_PAGES);
    const n = e.details().length;
    const expected = makeFifteenChanges(e);
    const throttledOnce = new Set<string>();
    e.bus.failEntries((entry, _call, entryIndex) => {
      if (entryIndex % 2 === 1 || throttledOnce.has(entry.detail)) return undefined;
      throttledOnce.add(entry.detail);
      return 'ThrottlingException';
    });
    const callsBefore = e.bus.calls.length;

    const result = await e.poll();
    expect(result.outcome).toBe('success');
    expect(throttledOnce.size).toBeGreaterThan(0);
    expect(e.bus.calls.length - callsBefore).toBeGreaterThan(2); // retries of the failed entries
    const delivered = e.since(n);
    expect(delivered).toHaveLength(15); // no entry accepted twice
    expectDeliveredOnce(e, n, expected);
    expect(e.deadLetters.records).toEqual([]);
  });

  it('re-sends BatchWriteItem UnprocessedItems until every snapshot, index shard and journal delete is done', async () => {
    let deferredCalls = 0;
    const deferredOnce = new Set<string>();
    const deferHalf = (client: DynamoDBClient) => {
      client.middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName !== 'BatchWriteItemCommand') return next(args);
          const input = args.input as BatchWriteItemCommandInput;
          const [table, requests] = Object.entries(input.RequestItems ?? {})[0] ?? [];
          if (!table || !requests || requests.length < 2) return next(args);
          const keys = requests.map((r) => JSON.stringify(r));
          if (keys.some((k) => deferredOnce.has(k))) return next(args); // a retry: let it through
          // DynamoDB took only the first half this time.
          const half = Math.ceil(requests.length / 2);
          const left = requests.slice(half);
          for (const k of keys.slice(half)) deferredOnce.add(k);
          deferredCalls += 1;
          const result = await next({
            ...args,
            input: { ...input, RequestItems: { [table]: requests.slice(0, half) } },
          });
          const output = result.output as BatchWriteItemCommandOutput;
          return { ...result, output: { ...output, UnprocessedItems: { [table]: left } } };
        },
        { step: 'initialize', name: 'unprocessedItemsFault' },
      );
    };
    const e = await initialised({ ...FOUR_PAGES, onDynamoClient: deferHalf });
    expect(deferredCalls).toBeGreaterThan(0); // the initial load's commit was cut short too
    expect(e.consumerView()).toEqual(e.sourceView());
    const n = e.details().length;
    const expected = makeFifteenChanges(e);
    const deferredBefore = deferredCalls;

    const result = await e.poll({ chunkSize: 5 });
    expect(result.outcome).toBe('success');
    expect(deferredCalls).toBeGreaterThan(deferredBefore);
    expect(e.since(n)).toHaveLength(15);
    expectDeliveredOnce(e, n, expected);
    // Snapshots, index and journal deletes all landed: the next poll re-publishes nothing, writes nothing.
    const after = e.bus.accepted.length;
    const quiet = await e.poll();
    expect(quiet.counts.recoveredFromJournal).toBe(0);
    expect(quiet.counts.committed).toBe(0);
    expect(quiet.counts.unchanged).toBe(e.sandbox.size);
    expect(e.bus.accepted.length).toBe(after);
  });
});

describe('engine × sandbox × dynalite: Nutcache faults', () => {
  it('survives 429, 500 and HTML answers during a poll with no spurious event', async () => {
    const e = await initialised(FOUR_PAGES);
    const ids = idsOf(e);
    const n = e.details().length;
    const updated = at(ids, 15);
    const deleted = at(ids, 22);
    e.sandbox.update(updated, { name: 'Renamed Ltd.' });
    e.sandbox.remove(deleted);
    e.sandbox.inject({ kind: 'status', status: 429, retryAfter: 2, page: 2 });
    e.sandbox.inject({ kind: 'status', status: 500, page: 3, times: 2 });
    e.sandbox.inject({ kind: 'html', status: 200, page: 4 });
    e.sandbox.inject({ kind: 'status', status: 503, customerId: deleted });
    e.sandbox.inject({ kind: 'html', status: 502, customerId: deleted });

    const result = await e.poll();
    expect(result.outcome).toBe('success');
    expect(e.sandbox.stats.faultsFired).toBe(6);
    expect(result.nutcacheRequests).toBe(4 + 4 + 3); // 4 pages, 4 retries, 1 lookup and its 2 retries
    expect(changesOf(e.since(n))).toEqual([
      ['deleted', deleted],
      ['updated', updated],
    ]);
    expect(e.consumerView()).toEqual(e.sourceView());

    // The same faults on an unchanged poll: still nothing to report.
    e.sandbox.inject({ kind: 'status', status: 429, retryAfter: 1, page: 1 });
    e.sandbox.inject({ kind: 'status', status: 500, page: 4 });
    e.sandbox.inject({ kind: 'html', page: 2 });
    const quiet = await e.poll();
    expect(quiet.outcome).toBe('success');
    expect(quiet.counts.unchanged).toBe(37);
    expect(e.since(n)).toHaveLength(2);
  });
});

describe('engine × sandbox × dynalite: the mass-deletion guard', () => {
  it('holds the deletion of 40% of the customers with an anomaly event, and lets it through when allowed', async () => {
    const e = await initialised(FOUR_PAGES);
    const ids = idsOf(e);
    const removed = ids.filter((_, i) => i % 5 === 1 || i % 5 === 3); // 2 of every 5: 15 of 38 (39%)
    for (const id of removed) e.sandbox.remove(id);
    const n = e.bus.accepted.length;

    const held = await e.poll();
    expect(held.outcome).toBe('held');
    expect(held.counts.deletionsHeld).toBe(removed.length);
    expect(held.counts.deleted).toBe(0);
    const anomaly = e.bus.accepted.slice(n);
    expect(anomaly.map((ev) => ev['detail-type'])).toEqual([ANOMALY_DETAIL_TYPE]);
    expect(anomaly[0]?.detail).toMatchObject({
      anomaly: 'mass-deletion',
      heldDeletions: removed.length,
      knownCustomers: 38,
    });
    expect(e.metrics.get('MassDeletionHeld')).toBe(removed.length);

    const allowed = await e.poll({ allowMassDeletion: true });
    expect(allowed.outcome).toBe('success');
    expect(changesOf(e.since(e.details().length - allowed.counts.deleted))).toEqual(
      removed.map((id): [string, number] => ['deleted', id]).sort((a, b) => a[1] - b[1]),
    );
    expect(allowed.counts.deleted).toBe(removed.length);
    expect(e.consumerView()).toEqual(e.sourceView());
  });
});

/** Plain text of about `chars` characters, from a seeded pick of words (compresses like prose). */
function prose(chars: number): string {
  const words = [
    'client',
    'facture',
    'projet',
    'suivi',
    'appel',
    'rencontre',
    'budget',
    'contrat',
    'livraison',
  ];
  let state = 17;
  const out: string[] = [];
  let length = 0;
  while (length < chars) {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    const word = words[state % words.length] ?? 'note';
    out.push(word);
    length += word.length + 1;
  }
  return out.join(' ');
}

/** Text that does not compress: base64 of seeded pseudo-random bytes (e.g. an image pasted in the notes). */
function incompressible(chars: number): string {
  const bytes = Buffer.alloc(Math.ceil((chars * 3) / 4));
  let state = 99;
  for (let i = 0; i < bytes.length; i++) {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    bytes[i] = state >>> 16;
  }
  return bytes.toString('base64');
}

describe('engine × sandbox × dynalite: a customer too large for the store', () => {
  it.each([
    ['400 KB of notes (more than one DynamoDB item holds)', () => prose(400_000)],
    ['200 KB of incompressible notes', () => incompressible(200_000)],
  ])('does not stop change detection for the organization when a customer has %s', async (_name, notes) => {
    const e = await initialised(FOUR_PAGES);
    const ids = idsOf(e);
    const big = at(ids, 0);
    const sameTime = at(ids, 20);
    const later = at(ids, 30);
    const n = e.details().length;
    e.sandbox.update(big, { Notes: notes() });
    e.sandbox.update(sameTime, { name: 'Changed with the big one' });
    const results: PollResult[] = [await e.poll()];
    e.sandbox.update(later, { name: 'Changed afterwards' });
    results.push(await e.poll());
    const settled = e.bus.accepted.length;
    results.push(await e.poll());

    // The other customers' changes are delivered, whatever happened to the big one…
    const delivered = changesOf(expectStableEventIds(e.since(n)));
    expect(delivered).toContainEqual(['updated', sameTime]);
    expect(delivered).toContainEqual(['updated', later]);
    // …the big customer's change is not silently lost (published, reduced or not, or dead-lettered, or
    // at least counted as a record that cannot be kept)…
    const accountedFor =
      delivered.some(([, id]) => id === big) ||
      e.deadLetters.records.length > 0 ||
      results.some((r) => r.counts.invalid > 0);
    expect(accountedFor).toBe(true);
    // …and the organization settles: a poll with nothing new is a success that publishes nothing.
    expect(results[2]?.outcome, results[2]?.error).toBe('success');
    expect(e.bus.accepted.length).toBe(settled);
  });
});

describe('engine × sandbox × dynalite: the cost of an unchanged poll', () => {
  it('reads 10,000 customers in 100 Nutcache requests and about 40 read units, and writes nothing', async () => {
    env = await setup({ sandbox: { documented: false, generated: 10_000, seed: 3 } });
    const e = env;
    const load = await e.poll({ initialEvents: 'none', pageLimit: 100 });
    expect(load.outcome).toBe('success');
    expect(load.counts.committed).toBe(10_000);

    e.store.resetStats();
    e.sandbox.resetStats();
    const started = performance.now();
    const result = await e.poll({ pageLimit: 100 });
    const wallMs = performance.now() - started;
    const stats = e.store.stats;

    console.log(
      [
        'one unchanged poll of 10,000 sandbox customers:',
        `  Nutcache requests: ${result.nutcacheRequests} (sandbox saw ${e.sandbox.stats.requests})`,
        `  DynamoDB requests: ${JSON.stringify(stats.requests)}`,
        `  DynamoDB read units: ${stats.readUnits}, write units: ${stats.writeUnits}`,
        `  PutEvents calls: ${e.bus.calls.length}`,
        `  wall time: ${Math.round(wallMs)} ms (loopback, dynalite)`,
      ].join('\n'),
    );

    expect(result.outcome).toBe('success');
    expect(result.counts.unchanged).toBe(10_000);
    expect(result.nutcacheRequests).toBe(100);
    expect(e.sandbox.stats.requests).toBe(100);
    expect(e.bus.calls.length).toBe(0);
    expect(stats.requests.BatchWriteItem ?? 0).toBe(0);
    expect(stats.requests.BatchGetItem ?? 0).toBe(0);
    // The index is 10,000 × 16 bytes in 256 shard items: ~160 KB, i.e. ~40 strongly consistent units.
    expect(stats.readUnits).toBeGreaterThanOrEqual(39);
    expect(stats.readUnits).toBeLessThanOrEqual(60);
  });
});
