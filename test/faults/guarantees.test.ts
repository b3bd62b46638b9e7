/**
 * Fault-injection proof of the guarantees (fast-check, seeded). Each case is a random history of a
 * sandbox organization — creations (some at the front of the listing), edits (including reverts to a
 * field's previous value and value-casing changes), deletions and key-casing changes — interleaved with
 * polls under random faults: 429 / 500 / timeouts / HTML / truncated bodies from Nutcache, page shifts
 * during a listing, PutEvents partial failures and rejected calls, store failures (failed reads, journal
 * writes and commits), BatchWriteItem / BatchGetItem answers with UnprocessedItems / UnprocessedKeys (on the
 * DynamoDB store over dynalite, a sixth of the cases), and a crash at a random point of a poll
 * (a SimulatedCrash thrown from a store or bus call, after which the process is dead until the next poll and
 * its lease must lapse). After a final clean poll:
 * - the consumer contract rebuilds exactly the sandbox's customers, in acceptance order and in a shuffled,
 *   duplicated delivery;
 * - no change was lost: also after every intermediate poll that completed cleanly, the consumer's view
 *   equals the sandbox;
 * - no false delete (checked when the event is handed to the bus), no spurious update, no invented state;
 * - a duplicate delivery shares its eventId and two different changes never share one.
 *
 * A second property drives a resync whose deliveries fail at random positions (single events, or an outage
 * from some event on), then its continuation by plain polls that fail too: every customer reaches the
 * consumer under one eventId from the resync on, the consumer ends with the source, and the resync ends.
 *
 * FAULT_CASES (default 300), FAULT_DYNAMO_CASES (default a sixth of it), FAULT_RESYNC_CASES (default a
 * third of it) and FAULT_SEED change the run;
 * the figures are printed at the end.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { KeyCasing } from '../../sandbox/faults.ts';
import { type Sandbox, startSandbox } from '../../sandbox/server.ts';
import { type JsonValue, stableStringify } from '../../shared/customer.ts';
import { runPoll } from '../../shared/engine/poll.ts';
import { MemoryDeadLetterSink } from '../../shared/publish/dead-letter.ts';
import { MemoryBus, SimulatedCrash, seededRandom } from '../../shared/publish/memory.ts';
import { createTable } from '../../shared/store/create-table.ts';
import { createDocumentClient, DynamoSnapshotStore } from '../../shared/store/dynamodb.ts';
import { type LocalDynamo, startLocalDynamo } from '../../shared/store/local-dynamo.ts';
import { InMemorySnapshotStore } from '../../shared/store/memory.ts';
import { type StoreFaultPoint, withStoreFaults } from '../support/store-faults.ts';
import {
  ContractConsumer,
  canonicalMap,
  canonicalOf,
  checkEvents,
  customerDetails,
  customersWithSeveralEventIds,
  diffStates,
  FlakyBatches,
  GuardedBus,
  noMetrics,
  PageShift,
  PersistentFailures,
  ProcessLife,
  silentLog,
  suiteClient,
  Violations,
  virtualClock,
} from './harness.ts';

const CASES = Number(process.env.FAULT_CASES ?? 300);
/** Cases run against the DynamoDB store on dynalite (slower: every store call is an HTTP request). */
const DYNAMO_CASES = Number(process.env.FAULT_DYNAMO_CASES ?? Math.max(20, Math.round(CASES / 6)));
const SEED = Number(process.env.FAULT_SEED ?? 20_260_301);
const LEASE_TTL_MS = 60_000;
const POLL_INTERVAL_MS = 5 * 60_000;
const PAGE_LIMIT = 5;

// ---------------------------------------------------------------------------------------------------
// The random histories

type Mutation =
  | { readonly kind: 'create'; readonly front: boolean; readonly name: string }
  | { readonly kind: 'edit'; readonly pick: number; readonly field: string; readonly value: JsonValue }
  | { readonly kind: 'revert'; readonly pick: number }
  | { readonly kind: 'delete'; readonly pick: number }
  | { readonly kind: 'casing'; readonly casing: KeyCasing };

type NutcacheFault = {
  readonly kind: '429' | '500' | 'html' | 'timeout' | 'truncated';
  readonly target: 'list' | 'get';
  readonly page: number;
  readonly times: number;
  readonly skip: number;
};

const STORE_POINTS: readonly StoreFaultPoint[] = [
  'acquireLease',
  'loadIndex',
  'loadJournal',
  'getSnapshots',
  'writeJournal',
  'writeJournal:item',
  'commitSnapshots',
  'commitIndex',
  'commit:snapshots',
  'commit:index',
  'deleteJournal',
  'updateOrgState',
  'putRunRecord',
  'releaseLease',
];

interface PollStep {
  readonly kind: 'poll';
  readonly nutcache: readonly NutcacheFault[];
  readonly pageShift: { readonly page: number; readonly mutation: Mutation } | null;
  readonly bus: {
    readonly seed: number;
    readonly entryFailureProbability: number;
    readonly callRejectionProbability: number;
  } | null;
  readonly storeFault: { readonly point: StoreFaultPoint; readonly skip: number } | null;
  readonly crash:
    | { readonly where: 'store'; readonly point: StoreFaultPoint; readonly skip: number }
    | { readonly where: 'bus'; readonly afterCalls: number; readonly acceptBeforeCrash: boolean }
    | null;
  readonly chunkSize: number;
  readonly unprocessed: number;
}

type Step = { readonly kind: 'mutate'; readonly mutation: Mutation } | PollStep;

const FIELD_VALUES: Readonly<Record<string, readonly JsonValue[]>> = {
  name: ['Acme', 'ACME', 'acme', 'Globex', 'Initech'],
  email: [null, '', 'info@acme.test', 'INFO@acme.test'],
  status: [0, 1],
  notes: [null, 'VIP', 'vip', ''],
  city: [null, 'Montréal', 'Paris', 'paris'],
  phone: [null, '555-0100', '555 0100'],
};

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('create' as const),
      front: fc.boolean(),
      name: fc.constantFrom('New', 'Nouveau', 'Neu'),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.constantFrom(...Object.keys(FIELD_VALUES)).chain((field) =>
      fc.record({
        kind: fc.constant('edit' as const),
        pick: fc.nat(),
        field: fc.constant(field),
        value: fc.constantFrom(...(FIELD_VALUES[field] ?? [null])),
      }),
    ),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('revert' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('casing' as const),
      casing: fc.constantFrom<KeyCasing>(
        'documented',
        'lower',
        'upper',
        'pascal',
        'mixed',
        'attribute-table',
      ),
    }),
  },
);

const nutcacheFaultArb: fc.Arbitrary<NutcacheFault> = fc
  .record({
    kind: fc.constantFrom(
      '429' as const,
      '500' as const,
      'html' as const,
      'timeout' as const,
      'truncated' as const,
    ),
    target: fc.constantFrom('list' as const, 'list' as const, 'get' as const),
    page: fc.integer({ min: 1, max: 4 }),
    times: fc.integer({ min: 1, max: 4 }),
    skip: fc.integer({ min: 0, max: 2 }),
  })
  // A timeout costs real time (the request timeout); one per fault keeps the suite fast.
  .map((f) => (f.kind === 'timeout' ? { ...f, times: 1 } : f));

const pollArb: fc.Arbitrary<PollStep> = fc.record({
  kind: fc.constant('poll' as const),
  nutcache: fc.array(nutcacheFaultArb, { maxLength: 3 }),
  pageShift: fc.option(fc.record({ page: fc.integer({ min: 1, max: 3 }), mutation: mutationArb }), {
    freq: 3,
  }),
  bus: fc.option(
    fc.record({
      seed: fc.integer(),
      entryFailureProbability: fc.constantFrom(0.1, 0.3, 0.6),
      callRejectionProbability: fc.constantFrom(0, 0.1, 0.3),
    }),
    { freq: 2 },
  ),
  storeFault: fc.option(
    fc.record({ point: fc.constantFrom(...STORE_POINTS), skip: fc.integer({ min: 0, max: 2 }) }),
    { freq: 3 },
  ),
  crash: fc.option(
    fc.oneof(
      fc.record({
        where: fc.constant('store' as const),
        point: fc.constantFrom(...STORE_POINTS),
        skip: fc.integer({ min: 0, max: 3 }),
      }),
      fc.record({
        where: fc.constant('bus' as const),
        afterCalls: fc.integer({ min: 0, max: 4 }),
        acceptBeforeCrash: fc.boolean(),
      }),
    ),
    { freq: 3 },
  ),
  chunkSize: fc.constantFrom(3, 7, 500),
  /** Share of BatchWriteItem / BatchGetItem requests left unprocessed (DynamoDB store only). */
  unprocessed: fc.constantFrom(0, 0, 0.3, 0.9),
});

const caseArb = fc.record({
  initialCustomers: fc.integer({ min: 0, max: 18 }),
  steps: fc.array(
    fc.oneof(
      { weight: 3, arbitrary: mutationArb.map((mutation): Step => ({ kind: 'mutate', mutation })) },
      { weight: 2, arbitrary: pollArb },
    ),
    { minLength: 1, maxLength: 16 },
  ),
  deliverySeed: fc.integer(),
});

type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

// ---------------------------------------------------------------------------------------------------
// Figures

const figures = {
  cases: 0,
  polls: 0,
  crashes: 0,
  busyAfterCrash: 0,
  storeFaults: 0,
  nutcacheFaults: 0,
  pageShifts: 0,
  busEntryFailures: 0,
  busCallRejections: 0,
  unprocessed: 0,
  dynamoCases: 0,
  events: 0,
  intermediateChecks: 0,
};
const startedAt = Date.now();

// ---------------------------------------------------------------------------------------------------
// The source's history

/**
 * Applies mutations to the sandbox and remembers every state each customer had (canonical JSON), to catch
 * invented states. Ids are never reused (as in Nutcache): front ids below the generated range, back ids
 * above it.
 */
class SandboxMutator {
  readonly history = new Map<number, Set<string>>();
  #nextFrontId = 1_000;
  #nextBackId = 400_000;
  readonly #previousValues = new Map<number, { field: string; value: JsonValue }[]>();

  constructor(private readonly sandbox: Sandbox) {
    for (const customer of sandbox.list()) this.remember(customer.id);
  }

  remember(id: number): void {
    const record = this.sandbox.get(id);
    if (!record) return;
    const states = this.history.get(id) ?? new Set<string>();
    states.add(stableStringify(canonicalOf(record)));
    this.history.set(id, states);
  }

  apply(m: Mutation): void {
    const { sandbox } = this;
    const ids = sandbox.list().map((x) => x.id);
    const pick = (n: number): number | undefined => (ids.length === 0 ? undefined : ids[n % ids.length]);
    switch (m.kind) {
      case 'create': {
        const id = m.front ? this.#nextFrontId++ : this.#nextBackId++;
        sandbox.create({ id, name: `${m.name} ${id}` });
        this.remember(id);
        return;
      }
      case 'edit': {
        const id = pick(m.pick);
        if (id === undefined) return;
        const before = canonicalOf(sandbox.get(id))[m.field] ?? null;
        const stack = this.#previousValues.get(id) ?? [];
        stack.push({ field: m.field, value: before });
        this.#previousValues.set(id, stack);
        sandbox.update(id, { [m.field]: m.value });
        this.remember(id);
        return;
      }
      case 'revert': {
        const id = pick(m.pick);
        const last = id === undefined ? undefined : this.#previousValues.get(id)?.pop();
        if (id === undefined || !last) return;
        sandbox.update(id, { [last.field]: last.value });
        this.remember(id);
        return;
      }
      case 'delete': {
        const id = pick(m.pick);
        if (id !== undefined) sandbox.remove(id);
        return;
      }
      case 'casing':
        sandbox.setKeyCasing(m.casing);
        return;
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// One case

/** Where the snapshots live: the in-memory store, or the DynamoDB store on dynalite with flaky batches. */
type Backend =
  | { readonly kind: 'memory' }
  | { readonly kind: 'dynamo'; readonly dynamo: LocalDynamo; readonly table: string };

async function runCase(c: Case, backend: Backend): Promise<void> {
  const sandbox: Sandbox = await startSandbox({
    documented: false,
    generated: c.initialCustomers,
    seed: (c.deliverySeed >>> 0) % 1000,
    rateLimit: null,
  });
  try {
    await exercise(sandbox, c, backend);
  } finally {
    figures.nutcacheFaults += sandbox.stats.faultsFired;
    await sandbox.close();
  }
}

async function exercise(sandbox: Sandbox, c: Case, backend: Backend): Promise<void> {
  const org = sandbox.organizationGuid;
  const clock = virtualClock(Date.parse('2026-03-01T08:00:00Z'));
  const life = new ProcessLife();
  const violations = new Violations();

  const mutator = new SandboxMutator(sandbox);
  const { history } = mutator;
  const applyMutation = (m: Mutation): void => mutator.apply(m);

  // The store, with crash and failure injection through its beforeOperation hook.
  let armedCrash: { point: StoreFaultPoint; skip: number } | undefined;
  let armedFault: { point: StoreFaultPoint; skip: number } | undefined;
  let crashPoint: StoreFaultPoint | 'bus' | undefined;
  const flaky = new FlakyBatches(seededRandom(c.deliverySeed ^ 0x0ddba11));
  const beforeOperation = (point: StoreFaultPoint): void => {
    life.assertAlive();
    if (armedCrash && armedCrash.point === point) {
      if (armedCrash.skip === 0) {
        armedCrash = undefined;
        crashPoint = point;
        life.kill();
        throw new SimulatedCrash(-1, false);
      }
      armedCrash.skip -= 1;
    }
    if (armedFault && armedFault.point === point) {
      if (armedFault.skip === 0) {
        armedFault = undefined;
        figures.storeFaults += 1;
        throw new Error(
          point.startsWith('commit')
            ? 'BatchWriteItem: 4 of 25 writes still unprocessed after 8 attempts (injected UnprocessedItems)'
            : `ProvisionedThroughputExceededException at ${point} (injected)`,
        );
      }
      armedFault.skip -= 1;
    }
  };
  const store =
    backend.kind === 'memory'
      ? withStoreFaults(new InMemorySnapshotStore({ clock }), { beforeOperation })
      : withStoreFaults(
          new DynamoSnapshotStore({
            client: flaky.wrap(createDocumentClient(backend.dynamo.client)),
            tableName: backend.table,
            clock,
            retry: { baseDelayMs: 20 },
          }),
          { beforeOperation },
        );
  const memoryBus = new MemoryBus();
  const bus = new GuardedBus(memoryBus, life, sandbox, violations);
  const deadLetters = new MemoryDeadLetterSink(clock);
  const source = suiteClient(sandbox, clock);
  const deps = { source, store, bus, deadLetters, clock, log: silentLog, metrics: noMetrics };

  const consumerView = (): Map<number, string> => {
    const consumer = new ContractConsumer();
    for (const d of customerDetails(memoryBus.accepted)) consumer.apply(d);
    return consumer.state;
  };

  const poll = async (options: { chunkSize?: number; allowMassDeletion?: boolean } = {}) => {
    figures.polls += 1;
    try {
      return await runPoll(deps, {
        organizationGuid: org,
        pageLimit: PAGE_LIMIT,
        leaseTtlMs: LEASE_TTL_MS,
        ...options,
      });
    } catch (error) {
      // runPoll throws only when the store fails before the poll could start (its lease call).
      if (!(error instanceof SimulatedCrash) && !(error instanceof Error && /injected/.test(error.message))) {
        throw error;
      }
      return undefined;
    }
  };

  for (const step of c.steps) {
    if (step.kind === 'mutate') {
      applyMutation(step.mutation);
      continue;
    }
    clock.advance(POLL_INTERVAL_MS);
    let midPollMutation = false;
    for (const f of step.nutcache) {
      const match = f.target === 'list' ? { page: f.page } : { path: 'customers/{id}' };
      const trigger = { times: f.times, skip: f.skip };
      if (f.kind === '429')
        sandbox.inject({ kind: 'status', status: 429, retryAfter: 2, ...match, ...trigger });
      else if (f.kind === '500') sandbox.inject({ kind: 'status', status: 500, ...match, ...trigger });
      else if (f.kind === 'html') sandbox.inject({ kind: 'html', status: 200, ...match, ...trigger });
      else if (f.kind === 'truncated') sandbox.inject({ kind: 'truncated', ...match, ...trigger });
      else sandbox.inject({ kind: 'delay', ms: 600, ...match, ...trigger });
    }
    let shift: PageShift | undefined;
    if (step.pageShift) {
      const { page, mutation } = step.pageShift;
      shift = new PageShift(sandbox, page, () => {
        midPollMutation = true;
        figures.pageShifts += 1;
        applyMutation(mutation);
      });
    }
    if (step.bus) memoryBus.randomFaults(step.bus);
    flaky.probability = step.unprocessed;
    if (step.storeFault) armedFault = { ...step.storeFault };
    crashPoint = undefined;
    if (step.crash?.where === 'store') armedCrash = { point: step.crash.point, skip: step.crash.skip };
    if (step.crash?.where === 'bus') {
      memoryBus.crashAfterCalls(step.crash.afterCalls, { acceptBeforeCrash: step.crash.acceptBeforeCrash });
    }
    const failedBefore = bus.failedEntries;
    const rejectedBefore = bus.rejectedCalls;
    const unprocessedBefore = flaky.unprocessedItems + flaky.unprocessedKeys;

    const result = await poll({ chunkSize: step.chunkSize });

    // A shift armed on an answer the client gave up on (request timeout) runs when the sandbox finally
    // writes that answer: wait for it, so it counts as this poll's mid-poll change instead of landing
    // unnoticed under a later poll whose no-loss check assumes the source stood still.
    await shift?.settle();
    const crashedOnBus = life.dead && crashPoint === undefined;
    sandbox.clearFaults();
    memoryBus.clearFaults();
    flaky.probability = 0;
    armedCrash = undefined;
    armedFault = undefined;
    figures.busEntryFailures += bus.failedEntries - failedBefore;
    figures.busCallRejections += bus.rejectedCalls - rejectedBefore;
    figures.unprocessed += flaky.unprocessedItems + flaky.unprocessedKeys - unprocessedBefore;

    if (life.dead) {
      figures.crashes += 1;
      life.dead = false; // the process restarts; its lease is still held
      if (crashedOnBus || crashPoint !== 'acquireLease') {
        const next = await poll();
        if (next?.outcome !== 'busy') {
          violations.add(
            `a poll right after a crash (${String(crashPoint ?? 'bus')}) was not kept out by the lease`,
          );
        } else figures.busyAfterCrash += 1;
        clock.advance(LEASE_TTL_MS + 1_000); // the lease lapses
      }
      continue;
    }
    if (
      result?.outcome === 'success' &&
      result.listingComplete &&
      result.counts.deletionsUnconfirmed === 0 &&
      result.counts.deletionsHeld === 0 &&
      !midPollMutation
    ) {
      figures.intermediateChecks += 1;
      for (const d of diffStates(consumerView(), canonicalMap(sandbox))) {
        violations.add(`after clean poll ${result.pollNumber}: ${d}`);
      }
    }
  }

  // The final clean poll.
  clock.advance(POLL_INTERVAL_MS);
  const final = await poll({ allowMassDeletion: true });
  expect(final?.outcome, `final poll: ${final?.error ?? ''}`).toBe('success');

  const details = customerDetails(memoryBus.accepted);
  figures.events += details.length;
  checkEvents(details, history, violations);
  const sourceState = canonicalMap(sandbox);
  for (const d of diffStates(consumerView(), sourceState)) violations.add(`final, in acceptance order: ${d}`);

  // Any order, any duplication: shuffle a delivery with every event once and some twice.
  const random = seededRandom(c.deliverySeed);
  const delivery = [...details, ...details.filter(() => random() < 0.3)];
  for (let i = delivery.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [delivery[i], delivery[j]] = [
      delivery[j] as (typeof delivery)[number],
      delivery[i] as (typeof delivery)[number],
    ];
  }
  const shuffled = new ContractConsumer();
  for (const d of delivery) shuffled.apply(d);
  for (const d of diffStates(shuffled.state, sourceState)) violations.add(`final, shuffled delivery: ${d}`);

  if (deadLetters.records.length > 0) violations.add(`${deadLetters.records.length} events dead-lettered`);
  expect(violations.list).toEqual([]);
}

// ---------------------------------------------------------------------------------------------------

describe('the guarantees under random faults', () => {
  afterAll(() => {
    const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
    const faults =
      figures.crashes +
      figures.storeFaults +
      figures.nutcacheFaults +
      figures.busEntryFailures +
      figures.busCallRejections +
      figures.unprocessed;
    process.stdout.write(
      `fault-injection suite: ${figures.cases} cases (${figures.dynamoCases} on DynamoDB/dynalite; seed ${SEED}), ${figures.polls} polls, ${faults} faults ` +
        `[${figures.crashes} crashes (${figures.busyAfterCrash} next polls kept out by the lease), ` +
        `${figures.storeFaults} store failures, ${figures.nutcacheFaults} Nutcache faults incl. ${figures.pageShifts} page shifts, ` +
        `${figures.busEntryFailures} PutEvents entry failures, ${figures.busCallRejections} rejected PutEvents calls, ` +
        `${figures.unprocessed} items/keys left unprocessed by DynamoDB batches], ` +
        `${figures.events} events checked, ${figures.intermediateChecks} intermediate no-loss checks, in ${seconds} s\n`,
    );
  });

  it(
    'rebuilds exactly the source at the consumer, losing, inventing and mislabelling nothing',
    async () => {
      await fc.assert(
        fc.asyncProperty(caseArb, async (c) => {
          figures.cases += 1;
          await runCase(c, { kind: 'memory' });
        }),
        { numRuns: CASES, seed: SEED },
      );
    },
    Math.max(240_000, CASES * 2_000),
  );

  it(
    'keeps the guarantees on the DynamoDB store when batches come back with UnprocessedItems',
    async () => {
      const dynamo = await startLocalDynamo();
      let n = 0;
      try {
        await fc.assert(
          fc.asyncProperty(caseArb, async (c) => {
            figures.cases += 1;
            figures.dynamoCases += 1;
            n += 1;
            const table = `faults-${n}`;
            await createTable(dynamo.client, table);
            await runCase(c, { kind: 'dynamo', dynamo, table });
          }),
          { numRuns: DYNAMO_CASES, seed: SEED + 1 },
        );
      } finally {
        await dynamo.close();
      }
    },
    Math.max(240_000, DYNAMO_CASES * 10_000),
  );
});

// ---------------------------------------------------------------------------------------------------
// A resync whose deliveries fail, then its continuation

const RESYNC_CASES = Number(process.env.FAULT_RESYNC_CASES ?? Math.max(30, Math.round(CASES / 3)));

/** One poll of the resync (the first) or of its continuation, with the deliveries that fail in it. */
const resyncPollArb = fc.record({
  chunkSize: fc.constantFrom(1, 2, 3, 7, 500),
  failing: fc.uniqueArray(fc.nat({ max: 20 }), { maxLength: 4 }),
  outageFrom: fc.option(fc.nat({ max: 16 }), { freq: 2 }),
});

const resyncCaseArb = fc.record({
  initialCustomers: fc.integer({ min: 1, max: 14 }),
  /** Changes between the initial load and the resync: the resync sends them as changes. */
  before: fc.array(mutationArb, { maxLength: 4 }),
  polls: fc.array(resyncPollArb, { minLength: 1, maxLength: 4 }),
  seed: fc.nat({ max: 999 }),
});

type ResyncCase = typeof resyncCaseArb extends fc.Arbitrary<infer T> ? T : never;

/**
 * The initial load, some changes, then a resync whose deliveries fail at the given positions and plain
 * polls (its continuation, failing too), then a clean poll: every customer reached the consumer under one
 * eventId since the resync began, the consumer has exactly the source, and the resync is over.
 */
async function runResyncCase(c: ResyncCase): Promise<string[]> {
  const sandbox = await startSandbox({
    documented: false,
    generated: c.initialCustomers,
    seed: c.seed,
    rateLimit: null,
  });
  try {
    const clock = virtualClock(Date.parse('2026-03-01T08:00:00Z'));
    const memoryBus = new MemoryBus();
    const store = new InMemorySnapshotStore({ clock });
    const deadLetters = new MemoryDeadLetterSink(clock);
    const source = suiteClient(sandbox, clock);
    const deps = { source, store, bus: memoryBus, deadLetters, clock, log: silentLog, metrics: noMetrics };
    const org = sandbox.organizationGuid;
    const poll = (options: { chunkSize?: number; mode?: 'resync' } = {}) => {
      clock.advance(POLL_INTERVAL_MS);
      return runPoll(deps, { organizationGuid: org, pageLimit: PAGE_LIMIT, ...options });
    };

    const mutator = new SandboxMutator(sandbox);
    expect((await poll()).outcome).toBe('success');
    for (const m of c.before) mutator.apply(m);
    const resyncStart = memoryBus.accepted.length;
    for (const [i, step] of c.polls.entries()) {
      const failures = new PersistentFailures(new Set(step.failing), step.outageFrom);
      memoryBus.failEntries(failures.fault);
      await poll({ chunkSize: step.chunkSize, ...(i === 0 ? { mode: 'resync' as const } : {}) });
      memoryBus.clearFaults();
      resyncFigures.failedDeliveries += failures.failed;
    }
    const final = await poll();
    expect(final.outcome, final.error).toBe('success');
    resyncFigures.polls += c.polls.length + 1;

    const violations = new Violations();
    const all = customerDetails(memoryBus.accepted);
    checkEvents(all, mutator.history, violations);
    const sinceResync = customerDetails(memoryBus.accepted.slice(resyncStart));
    resyncFigures.events += sinceResync.length;
    for (const v of customersWithSeveralEventIds(sinceResync)) violations.add(v);
    const reached = new Set(sinceResync.map((d) => d.customerId));
    for (const { id } of sandbox.list()) {
      if (!reached.has(id)) violations.add(`customer ${id} was not sent by the resync`);
    }
    const consumer = new ContractConsumer();
    for (const d of all) consumer.apply(d);
    for (const d of diffStates(consumer.state, canonicalMap(sandbox))) violations.add(d);
    // The resync is over: one more poll sends nothing.
    const acceptedBefore = memoryBus.accepted.length;
    const after = await poll();
    if (after.outcome !== 'success' || memoryBus.accepted.length !== acceptedBefore) {
      violations.add(`the poll after the resync sent ${memoryBus.accepted.length - acceptedBefore} events`);
    }
    return violations.list;
  } finally {
    await sandbox.close();
  }
}

const resyncFigures = { cases: 0, polls: 0, failedDeliveries: 0, events: 0 };

describe('a resync whose deliveries fail, then its continuation', () => {
  afterAll(() => {
    process.stdout.write(
      `resync fault suite: ${resyncFigures.cases} cases (seed ${SEED}), ${resyncFigures.polls} polls, ` +
        `${resyncFigures.failedDeliveries} failed deliveries, ${resyncFigures.events} events since the resyncs began\n`,
    );
  });

  it(
    'delivers every customer under one event id, whatever deliveries fail',
    async () => {
      await fc.assert(
        fc.asyncProperty(resyncCaseArb, async (c) => {
          resyncFigures.cases += 1;
          expect(await runResyncCase(c)).toEqual([]);
        }),
        { numRuns: RESYNC_CASES, seed: SEED + 2 },
      );
    },
    Math.max(120_000, RESYNC_CASES * 2_000),
  );
});
