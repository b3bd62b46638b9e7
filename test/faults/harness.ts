/**
 * The fault-injection harness: a virtual clock, a bus wrapper that can "kill the process", the consumer of
 * the event contract and the checks of the guarantees. Used by guarantees.test.ts.
 */

import {
  BatchGetCommand,
  type BatchGetCommandInput,
  BatchWriteCommand,
  type BatchWriteCommandInput,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import type { FaultHandle } from '../../sandbox/faults.ts';
import type { Sandbox, SandboxCustomers } from '../../sandbox/server.ts';
import { type CanonicalCustomer, stableStringify } from '../../shared/customer.ts';
import {
  type CustomerChangeDetail,
  customerChangeDetailSchema,
  type EventBridgeEvent,
} from '../../shared/events/contract.ts';
import { NutcacheClient } from '../../shared/nutcache/client.ts';
import { normalizeCustomer } from '../../shared/nutcache/normalize.ts';
import { SlidingWindowLimiter } from '../../shared/nutcache/rate-limiter.ts';
import type { BusEntry, BusEntryResult, Clock, EventBus, Log, MetricsSink } from '../../shared/ports.ts';
import { type EntryFault, SimulatedCrash } from '../../shared/publish/memory.ts';
import { TestClock } from '../support/clock.ts';

/** Virtual time: `sleep` moves the clock forward at once (after letting pending I/O run). */
export function virtualClock(start: number): TestClock {
  return new TestClock({ start, sleep: 'after-io' });
}

/**
 * A page shift: `change` runs once page `page` of the listing has been answered. The sandbox runs it when
 * it has written that answer; when the answer was delayed past the client's request timeout, that is later
 * in real time than the retry the poll went on with, possibly after the poll and under a later one.
 * `settle()` waits for such a late shift, so it always lands in the step that armed it.
 */
export class PageShift {
  applied = false;
  readonly #handle: FaultHandle;
  readonly #done: Promise<void>;

  constructor(sandbox: Pick<Sandbox, 'afterPage'>, page: number, change: () => void) {
    let done = (): void => {};
    this.#done = new Promise<void>((resolve) => {
      done = resolve;
    });
    this.#handle = sandbox.afterPage(page, () => {
      this.applied = true;
      try {
        change();
      } finally {
        done();
      }
    });
  }

  /** Returns once the shift has run, if its page was requested at all (throws after `timeoutMs`). */
  async settle(timeoutMs = 10_000): Promise<void> {
    if (this.#handle.hits === 0 || this.applied) return;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`page shift not applied within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.#done, late]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * The suite's Nutcache client: real 250 ms request timeouts (below the 600 ms delay faults), quick retries
 * on the virtual clock, no client-side rate limit.
 */
export function suiteClient(sandbox: Sandbox, clock: Clock): NutcacheClient {
  return new NutcacheClient({
    baseUrl: sandbox.url,
    organizationGuid: sandbox.organizationGuid,
    credentials: sandbox.credentials,
    clock,
    rateLimit: new SlidingWindowLimiter({ perSecond: 100_000, perMinute: 1_000_000 }, clock),
    retry: { maxAttempts: 3, baseDelayMs: 200 },
    requestTimeoutMs: 250,
  });
}

export const silentLog: Log = { debug() {}, info() {}, warn() {}, error() {} };
export const noMetrics: MetricsSink = { count() {}, gauge() {} };

/**
 * The state of "the process": once a simulated crash has happened, every further store or bus call of
 * that poll fails too, as they would in a dead process (so the lease is not released, the run record is
 * not written, and the next poll has to wait for the lease to lapse).
 */
export class ProcessLife {
  dead = false;
  crashes = 0;
  kill(): void {
    this.dead = true;
    this.crashes += 1;
  }
  assertAlive(): void {
    if (this.dead) throw new SimulatedCrash(-1, false);
  }
}

/** Canonical form of a sandbox record (what a correct poller must publish as `after`). */
export function canonicalOf(record: unknown): CanonicalCustomer {
  const parsed = normalizeCustomer(record);
  if (!parsed.ok) throw new Error(`sandbox record did not normalise: ${parsed.reason}`);
  return parsed.customer;
}

export function canonicalMap(customers: SandboxCustomers): Map<number, string> {
  return new Map(customers.list().map((c) => [c.id, stableStringify(canonicalOf(c))]));
}

/** The guarantees broken so far (each with enough context to debug). */
export class Violations {
  readonly list: string[] = [];
  add(message: string): void {
    if (this.list.length < 20) this.list.push(message);
  }
  get count(): number {
    return this.list.length;
  }
}

/**
 * Wraps the MemoryBus: refuses calls once the process is dead, marks the process dead when the bus
 * simulates a crash, counts injected failures, and checks the no-false-delete guarantee at the moment an
 * event is handed to the bus (the customer must not exist in the sandbox then).
 */
export class GuardedBus implements EventBus {
  failedEntries = 0;
  rejectedCalls = 0;
  calls = 0;

  constructor(
    private readonly inner: EventBus,
    private readonly life: ProcessLife,
    private readonly sandbox: SandboxCustomers,
    private readonly violations: Violations,
  ) {}

  async putEvents(entries: readonly BusEntry[]): Promise<BusEntryResult[]> {
    this.life.assertAlive();
    this.calls += 1;
    for (const entry of entries) {
      if (entry.detailType !== 'Customer Deleted') continue;
      const detail = JSON.parse(entry.detail) as { customerId: number };
      if (this.sandbox.get(detail.customerId) !== undefined) {
        this.violations.add(`false delete: Customer Deleted for ${detail.customerId}, which exists`);
      }
    }
    try {
      const results = await this.inner.putEvents(entries);
      this.failedEntries += results.filter((r) => !r.ok).length;
      return results;
    } catch (error) {
      if (error instanceof SimulatedCrash) this.life.kill();
      else this.rejectedCalls += 1;
      throw error;
    }
  }
}

/** The customer events among what the bus accepted, validated against the public schema. */
export function customerDetails(accepted: readonly EventBridgeEvent[]): CustomerChangeDetail[] {
  const out: CustomerChangeDetail[] = [];
  for (const event of accepted) {
    if (!event['detail-type'].startsWith('Customer ') || event['detail-type'] === 'Customer Sync Anomaly') {
      continue;
    }
    out.push(customerChangeDetailSchema.parse(event.detail) as CustomerChangeDetail);
  }
  return out;
}

/** The consumer contract's model, shared with the engine and integration tests. */
export { ContractConsumer } from '../support/consumer.ts';

/** Differences between the consumer's view and the source (empty when they agree). */
export function diffStates(consumer: Map<number, string>, source: Map<number, string>): string[] {
  const out: string[] = [];
  for (const [id, json] of source) {
    const seen = consumer.get(id);
    if (seen === undefined) out.push(`customer ${id} missing at the consumer`);
    else if (seen !== json) out.push(`customer ${id} differs: consumer ${seen} vs source ${json}`);
  }
  for (const id of consumer.keys())
    if (!source.has(id)) out.push(`customer ${id} kept but gone at the source`);
  return out.slice(0, 5);
}

const ABSENT = '<absent>';

/**
 * Checks every accepted customer event: no spurious update (non-empty changes, before ≠ after), no
 * invented state (every `after`, and a deletion's `before`, is a state the customer really had), and
 * eventIds that identify changes (a duplicate is identical; one customer's sequence names one event).
 */
export function checkEvents(
  details: readonly CustomerChangeDetail[],
  history: ReadonlyMap<number, ReadonlySet<string>>,
  violations: Violations,
): void {
  const byId = new Map<string, string>();
  const bySequence = new Map<string, string>();
  for (const d of details) {
    const text = stableStringify(d as unknown as Parameters<typeof stableStringify>[0]);
    const prior = byId.get(d.eventId);
    if (prior !== undefined && prior !== text) {
      violations.add(`eventId ${d.eventId} carries two different events`);
    }
    byId.set(d.eventId, text);
    const seqKey = `${d.customerId}@${d.sequence}`;
    const other = bySequence.get(seqKey);
    if (other !== undefined && other !== d.eventId) {
      violations.add(`customer ${d.customerId} has two events with sequence ${d.sequence}`);
    }
    bySequence.set(seqKey, d.eventId);

    const states = history.get(d.customerId) ?? new Set<string>();
    if (d.changeType === 'updated') {
      const changes = Object.entries(d.changes ?? {});
      if (changes.length === 0) violations.add(`spurious update ${d.eventId}: no changes`);
      for (const [field, change] of changes) {
        const before = change.before === undefined ? ABSENT : stableStringify(change.before);
        const after = change.after === undefined ? ABSENT : stableStringify(change.after);
        if (before === after) violations.add(`spurious update ${d.eventId}: ${field} ${before} → ${after}`);
      }
    }
    if (d.changeType === 'deleted') {
      if (d.before && !states.has(stableStringify(d.before))) {
        violations.add(`deleted event ${d.eventId} carries a before the customer never had`);
      }
    } else if (!d.after || !states.has(stableStringify(d.after))) {
      violations.add(`${d.changeType} event ${d.eventId} carries a state customer ${d.customerId} never had`);
    }
  }
}

/**
 * A DynamoDB document client that leaves a random share of each BatchWriteItem / BatchGetItem unprocessed,
 * returning it in `UnprocessedItems` / `UnprocessedKeys` as DynamoDB does under throttling. Everything else
 * passes through. `probability` can be changed between polls (0 turns it off).
 */
export class FlakyBatches {
  probability = 0;
  unprocessedItems = 0;
  unprocessedKeys = 0;

  constructor(private readonly random: () => number) {}

  wrap(client: DynamoDBDocumentClient): DynamoDBDocumentClient {
    const send = async (command: unknown): Promise<unknown> => {
      if (this.probability > 0 && command instanceof BatchWriteCommand) {
        const kept: NonNullable<BatchWriteCommandInput['RequestItems']> = {};
        const dropped: NonNullable<BatchWriteCommandInput['RequestItems']> = {};
        for (const [table, requests] of Object.entries(command.input.RequestItems ?? {})) {
          for (const request of requests) {
            const side = this.random() < this.probability ? dropped : kept;
            const list = side[table] ?? [];
            list.push(request);
            side[table] = list;
          }
        }
        const droppedCount = Object.values(dropped).reduce((n, r) => n + r.length, 0);
        this.unprocessedItems += droppedCount;
        const out =
          Object.keys(kept).length > 0
            ? await client.send(new BatchWriteCommand({ ...command.input, RequestItems: kept }))
            : { $metadata: {} };
        return { ...out, UnprocessedItems: droppedCount > 0 ? dropped : {} };
      }
      if (this.probability > 0 && command instanceof BatchGetCommand) {
        const kept: NonNullable<BatchGetCommandInput['RequestItems']> = {};
        const dropped: NonNullable<BatchGetCommandInput['RequestItems']> = {};
        for (const [table, request] of Object.entries(command.input.RequestItems ?? {})) {
          const keys = request.Keys ?? [];
          const keep = keys.filter(() => this.random() >= this.probability);
          const drop = keys.filter((k) => !keep.includes(k));
          if (keep.length > 0) kept[table] = { ...request, Keys: keep };
          if (drop.length > 0) dropped[table] = { ...request, Keys: drop };
          this.unprocessedKeys += drop.length;
        }
        const out =
          Object.keys(kept).length > 0
            ? await client.send(new BatchGetCommand({ ...command.input, RequestItems: kept }))
            : { $metadata: {}, Responses: {} };
        return { ...out, UnprocessedKeys: dropped };
      }
      return client.send(command as Parameters<DynamoDBDocumentClient['send']>[0]);
    };
    return new Proxy(client, {
      get(target, property, receiver) {
        if (property === 'send') return send;
        return Reflect.get(target, property, receiver);
      },
    });
  }
}

/**
 * Delivery failures that outlast the publisher's retries (an endpoint answering 500 to one event, or down
 * from some point on): events are numbered in the order the bus first sees them, and the chosen ones fail
 * on every attempt with a retryable code, so the poll gives them up as failed.
 */
export class PersistentFailures {
  readonly #order = new Map<string, number>();
  failed = 0;

  /** `failing`: positions that fail; `outageFrom`: every position from this one fails too. */
  constructor(
    private readonly failing: ReadonlySet<number>,
    private readonly outageFrom: number | null,
  ) {}

  readonly fault: EntryFault = (entry) => {
    const { eventId } = JSON.parse(entry.detail) as { eventId: string };
    let position = this.#order.get(eventId);
    if (position === undefined) {
      position = this.#order.size;
      this.#order.set(eventId, position);
    }
    const fails = this.failing.has(position) || (this.outageFrom !== null && position >= this.outageFrom);
    if (fails) this.failed += 1;
    return fails ? 'InternalFailure' : undefined;
  };
}

/**
 * "Every duplicate carries the same event id", for a stretch of polls in which the source stood still: each
 * customer reached the consumer under at most one eventId.
 */
export function customersWithSeveralEventIds(details: readonly CustomerChangeDetail[]): string[] {
  const ids = new Map<number, Set<string>>();
  for (const d of details) {
    const set = ids.get(d.customerId) ?? new Set<string>();
    set.add(d.eventId);
    ids.set(d.customerId, set);
  }
  return [...ids]
    .filter(([, set]) => set.size > 1)
    .map(([id, set]) => `customer ${id} delivered under ${set.size} event ids`);
}
