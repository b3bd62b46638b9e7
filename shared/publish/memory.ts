/**
 * An in-memory `EventBus` for tests and local runs: it records the events it accepts exactly as an
 * EventBridge rule target would receive them, enforces the PutEvents limits (10 entries, 256 KiB per
 * request, detail must be a JSON object) and injects faults on demand:
 * - `failEntries(fn)`: a per-entry error code chosen by the test (partial failure);
 * - `rejectCalls(fn)`: a whole call rejected with an error;
 * - `randomFaults({ seed, ... })`: seeded, reproducible random entry failures and call rejections;
 * - `crashAfterCalls(n)`: the call after the next n throws `SimulatedCrash`, an error marked `fatal` that
 *   the publisher never catches, so a fault-injection test can kill a poll in the middle of publishing.
 */
import type { EventBridgeEvent } from '../events/contract.ts';
import type { BusEntry, BusEntryResult, EventBus } from '../ports.ts';
import { seededRandom } from '../util/random.ts';
import { DEFAULT_MAX_ENTRY_BYTES, entrySize, isJsonObjectText, toEventBridgeEvent } from './serialize.ts';

/** Thrown by `MemoryBus` when a `crashAfterCalls` hook fires: stands for the death of the process. */
export class SimulatedCrash extends Error {
  override readonly name = 'SimulatedCrash';
  /** Marks the error as the death of the process: the publisher re-throws it untouched. */
  readonly fatal = true;
  constructor(
    /** Index (0-based) of the bus call that crashed. */
    readonly callIndex: number,
    /** Whether the bus had accepted that call's entries before the crash. */
    readonly accepted: boolean,
  ) {
    super(`simulated crash during bus call #${callIndex}${accepted ? ' (after the bus accepted it)' : ''}`);
  }
}

/** An error shaped like an AWS SDK service exception, for whole-call rejections. */
export class BusCallError extends Error {
  readonly $fault: 'client' | 'server';
  readonly $metadata: { readonly httpStatusCode: number };
  constructor(
    code: string,
    options: { fault?: 'client' | 'server'; httpStatusCode?: number; message?: string } = {},
  ) {
    super(options.message ?? code);
    this.name = code;
    this.$fault = options.fault ?? 'server';
    this.$metadata = { httpStatusCode: options.httpStatusCode ?? (this.$fault === 'client' ? 400 : 500) };
  }
}

export type EntryFault = (entry: BusEntry, callIndex: number, entryIndex: number) => string | undefined;
export type CallFault = (callIndex: number, entries: readonly BusEntry[]) => Error | undefined;

export interface RandomFaultOptions {
  readonly seed: number;
  /** Probability that an entry fails with one of `entryCodes`. */
  readonly entryFailureProbability: number;
  /** Probability that a whole call is rejected (a retryable `ThrottlingException`). */
  readonly callRejectionProbability: number;
  /** Codes drawn for failing entries. Default: the retryable `ThrottlingException` and `InternalFailure`. */
  readonly entryCodes?: readonly string[];
}

export interface MemoryBusOptions {
  /** Account written into recorded events. Default "000000000000". */
  readonly account?: string;
  /** Region written into recorded events. Default "local". */
  readonly region?: string;
  /** Request size limit enforced like EventBridge (sum of entry sizes). Default 256 KiB. */
  readonly maxRequestBytes?: number;
}

export { seededRandom };

export class MemoryBus implements EventBus {
  /** Events the bus accepted, in acceptance order, shaped as a rule target receives them. */
  readonly accepted: EventBridgeEvent[] = [];
  /** The entries of every call, rejected calls included. */
  readonly calls: BusEntry[][] = [];

  private readonly account: string;
  private readonly region: string;
  private readonly maxRequestBytes: number;
  private entryFault: EntryFault | undefined;
  private callFault: CallFault | undefined;
  private random: (RandomFaultOptions & { next: () => number }) | undefined;
  private crash: { atCall: number; acceptBeforeCrash: boolean } | undefined;
  private nextId = 0;

  constructor(options: MemoryBusOptions = {}) {
    this.account = options.account ?? '000000000000';
    this.region = options.region ?? 'local';
    this.maxRequestBytes = options.maxRequestBytes ?? DEFAULT_MAX_ENTRY_BYTES;
  }

  /** Fails entries with the returned code (undefined: the entry is accepted). */
  failEntries(fault: EntryFault): this {
    this.entryFault = fault;
    return this;
  }

  /** Rejects whole calls with the returned error (undefined: the call goes through). */
  rejectCalls(fault: CallFault): this {
    this.callFault = fault;
    return this;
  }

  /** Seeded random faults: retryable entry failures and call rejections with the given probabilities. */
  randomFaults(options: RandomFaultOptions): this {
    this.random = { ...options, next: seededRandom(options.seed) };
    return this;
  }

  /**
   * The next `calls` calls run normally; the one after throws `SimulatedCrash` (once). With
   * `acceptBeforeCrash`, that call's entries are accepted first: the process died after the bus took the
   * events but before it heard the answer, so a redo publishes duplicates (same eventIds).
   */
  crashAfterCalls(calls: number, options: { acceptBeforeCrash?: boolean } = {}): this {
    this.crash = { atCall: this.calls.length + calls, acceptBeforeCrash: options.acceptBeforeCrash ?? false };
    return this;
  }

  /** Removes every fault. */
  clearFaults(): this {
    this.entryFault = undefined;
    this.callFault = undefined;
    this.random = undefined;
    this.crash = undefined;
    return this;
  }

  /** The eventId (detail.eventId) of each accepted event, in acceptance order. */
  acceptedEventIds(): string[] {
    return this.accepted.map((event) => {
      const detail = event.detail;
      if (typeof detail === 'object' && detail !== null && 'eventId' in detail) {
        return String(detail.eventId);
      }
      return '';
    });
  }

  async putEvents(entries: readonly BusEntry[]): Promise<BusEntryResult[]> {
    const callIndex = this.calls.length;
    this.calls.push([...entries]);

    if (this.crash && this.crash.atCall === callIndex) {
      const { acceptBeforeCrash } = this.crash;
      this.crash = undefined;
      if (acceptBeforeCrash) for (const entry of entries) this.accept(entry);
      throw new SimulatedCrash(callIndex, acceptBeforeCrash);
    }

    if (entries.length === 0 || entries.length > 10) {
      throw new BusCallError('ValidationException', {
        fault: 'client',
        message: `PutEvents takes 1 to 10 entries, got ${entries.length}`,
      });
    }
    const bytes = entries.reduce((sum, entry) => sum + entrySize(entry), 0);
    if (bytes > this.maxRequestBytes) {
      throw new BusCallError('ValidationException', {
        fault: 'client',
        message: `Total size of the entries in the request is over the limit (${bytes} bytes)`,
      });
    }

    const rejection = this.callFault?.(callIndex, entries);
    if (rejection) throw rejection;
    if (this.random && this.random.next() < this.random.callRejectionProbability) {
      throw new BusCallError('ThrottlingException', { fault: 'client', message: 'Rate exceeded' });
    }

    return entries.map((entry, entryIndex): BusEntryResult => {
      if (!isJsonObjectText(entry.detail)) {
        return { ok: false, errorCode: 'MalformedDetail', errorMessage: 'Detail is malformed.' };
      }
      const code = this.entryFault?.(entry, callIndex, entryIndex) ?? this.randomEntryCode();
      if (code !== undefined) return { ok: false, errorCode: code, errorMessage: `injected ${code}` };
      return { ok: true, busEventId: this.accept(entry) };
    });
  }

  private randomEntryCode(): string | undefined {
    const random = this.random;
    if (!random || random.next() >= random.entryFailureProbability) return undefined;
    const codes = random.entryCodes ?? ['ThrottlingException', 'InternalFailure'];
    return codes[Math.floor(random.next() * codes.length)];
  }

  private accept(entry: BusEntry): string {
    this.nextId += 1;
    const id = `00000000-0000-4000-8000-${this.nextId.toString(16).padStart(12, '0')}`;
    this.accepted.push(toEventBridgeEvent(entry, { id, account: this.account, region: this.region }));
    return id;
  }
}
