/**
 * The ports of the change-detection engine. The engine (shared/engine) depends only on these interfaces;
 * adapters implement them for AWS (DynamoDB, EventBridge, SQS) and for local runs and tests (dynalite,
 * JSON lines, memory).
 */
import type { CanonicalCustomer } from './customer.ts';
import type { BusEvent } from './events/contract.ts';

// ---------------------------------------------------------------------------------------------------
// Cross-cutting

/** Structured logger. Powertools' Logger satisfies it. Never pass a credential in `extra`. */
export interface Log {
  debug(message: string, ...extra: Record<string, unknown>[]): void;
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
}

/** Time, injectable so tests can drive it. */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Counters and gauges (Powertools Metrics behind an adapter in Lambda; a plain recorder elsewhere). */
export interface MetricsSink {
  count(name: string, value?: number): void;
  gauge(name: string, value: number, unit?: 'Milliseconds' | 'Count' | 'Bytes'): void;
}

// ---------------------------------------------------------------------------------------------------
// Snapshot store

/** The committed state of one customer. */
export interface StoredSnapshot {
  readonly customerId: number;
  /** `customerHash(record)`. */
  readonly hash: string;
  readonly record: CanonicalCustomer;
  /** Sequence of the last event published for this customer. */
  readonly sequence: number;
}

/** Per-organization state kept beside the snapshots. */
export interface OrgState {
  readonly organizationGuid: string;
  /** The last poll number handed out; each poll gets the next one. Event sequences derive from it. */
  readonly pollNumber: number;
  /** True once a poll of this organization has committed its initial load. */
  readonly initialized: boolean;
  /** Pages of the last complete listing (the expected cost of the next poll). */
  readonly lastPages?: number;
  /** ISO time of the last successful poll. */
  readonly lastSuccessAt?: string;
  /** Pending operator request: run a full resync on the next poll. */
  readonly resyncRequested?: boolean;
  /**
   * Epoch ms before which scheduled polls are deferred: set when polls back off (Nutcache answered 429s,
   * or the daily budget runs low); 0 or absent when they run at the configured rate.
   */
  readonly notBefore?: number;
}

export type LeaseResult =
  | { readonly acquired: true; readonly pollNumber: number; readonly state: OrgState }
  | { readonly acquired: false; readonly holder: string; readonly expiresAt: number };

/** One event that was about to be published, with the snapshot to commit once the bus accepts it. */
export interface JournalEntry {
  readonly customerId: number;
  /** The event exactly as it is (re-)published. */
  readonly event: BusEvent;
  /** The snapshot to commit after publishing; `null` deletes the customer's snapshot. */
  readonly snapshot: StoredSnapshot | null;
}

export interface JournalBatch {
  readonly key: string;
  readonly entries: readonly JournalEntry[];
}

/** What one poll did; kept in the store with a TTL and logged. */
export interface RunRecord {
  readonly pollId: string;
  readonly pollNumber: number;
  readonly organizationGuid: string;
  readonly mode: 'poll' | 'resync';
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  /** `held`: everything was published and committed but deletions the mass-deletion guard held. */
  readonly outcome: 'success' | 'held' | 'partial' | 'deadline' | 'failed' | 'busy' | 'deferred';
  readonly counts: Readonly<Record<string, number>>;
  readonly nutcacheRequests: number;
  readonly error?: string;
}

/**
 * Durable per-organization state: a lease, the snapshots and a compact id → hash index, a journal of
 * events in flight, run records. Every method is safe to call again after a crash.
 */
export interface SnapshotStore {
  /**
   * Takes the organization's lease if it is free or expired, and atomically hands out the next poll number.
   * `ttlMs` is how long the lease lasts unless renewed.
   */
  acquireLease(organizationGuid: string, owner: string, ttlMs: number): Promise<LeaseResult>;
  /** Extends the lease; false when it is no longer ours (expired and taken). */
  renewLease(organizationGuid: string, owner: string, ttlMs: number): Promise<boolean>;
  releaseLease(organizationGuid: string, owner: string): Promise<void>;

  /** id → hash of every committed snapshot, read from the compact index (cheap: no full records). */
  loadIndex(organizationGuid: string): Promise<Map<number, string>>;
  /** Full snapshots for these ids (missing ids are absent from the result). */
  getSnapshots(organizationGuid: string, ids: readonly number[]): Promise<Map<number, StoredSnapshot>>;

  /** Writes events about to be published, so a crash after publishing can finish their commit. */
  writeJournal(
    organizationGuid: string,
    pollNumber: number,
    entries: readonly JournalEntry[],
  ): Promise<string[]>;
  /** Journal batches left by polls that did not finish, oldest first. */
  loadJournal(organizationGuid: string): Promise<JournalBatch[]>;
  deleteJournal(organizationGuid: string, keys: readonly string[]): Promise<void>;

  /**
   * Writes `puts` and deletes `deletes` (customer ids), then brings the index in line with `index`
   * (the caller's complete id → hash map after these changes; only the parts holding changed ids are written).
   * The same as `commitSnapshots` followed by `commitIndex`.
   */
  commit(
    organizationGuid: string,
    puts: readonly StoredSnapshot[],
    deletes: readonly number[],
    index: ReadonlyMap<number, string>,
  ): Promise<void>;
  /** Writes `puts` and deletes `deletes` (customer items only; the index is left as it is). */
  commitSnapshots(
    organizationGuid: string,
    puts: readonly StoredSnapshot[],
    deletes: readonly number[],
  ): Promise<void>;
  /**
   * Rewrites the parts of the index that hold `ids` from `index`, the caller's complete id → hash map. A
   * caller that commits snapshots in many steps writes the index once, after the last of them.
   */
  commitIndex(
    organizationGuid: string,
    index: ReadonlyMap<number, string>,
    ids: Iterable<number>,
  ): Promise<void>;

  updateOrgState(
    organizationGuid: string,
    patch: Partial<Omit<OrgState, 'organizationGuid' | 'pollNumber'>>,
  ): Promise<void>;
  getOrgState(organizationGuid: string): Promise<OrgState | undefined>;

  putRunRecord(run: RunRecord): Promise<void>;
  listRunRecords(organizationGuid: string, limit: number): Promise<RunRecord[]>;
}

// ---------------------------------------------------------------------------------------------------
// Event bus

/** One PutEvents entry, serialised. */
export interface BusEntry {
  readonly source: string;
  readonly detailType: string;
  /** JSON text of the detail. */
  readonly detail: string;
  readonly time: Date;
  readonly resources: readonly string[];
}

export type BusEntryResult =
  | { readonly ok: true; readonly busEventId?: string }
  | { readonly ok: false; readonly errorCode: string; readonly errorMessage?: string };

/**
 * The low-level bus: one PutEvents call (at most 10 entries). Resolves with one result per entry, in order
 * (partial failure); rejects when the whole call failed (network, throttling, 5xx).
 */
export interface EventBus {
  putEvents(entries: readonly BusEntry[]): Promise<BusEntryResult[]>;
}

/** Where events that can never be published go (never dropped silently). */
export interface DeadLetterSink {
  put(
    items: readonly { readonly event: BusEvent; readonly reason: string; readonly errorCode?: string }[],
  ): Promise<void>;
}
