/**
 * What a poll is given and what it reports: its dependencies and options, its counts and its result.
 * Every phase of the poll (shared/engine/phases) shares these types.
 */
import type { CustomerSource } from '../nutcache/types.ts';
import type {
  Clock,
  DeadLetterSink,
  EventBus,
  Log,
  MetricsSink,
  RunRecord,
  SnapshotStore,
} from '../ports.ts';

export interface PollDependencies {
  readonly source: CustomerSource;
  readonly store: SnapshotStore;
  readonly bus: EventBus;
  readonly deadLetters: DeadLetterSink;
  readonly clock: Clock;
  readonly log: Log;
  readonly metrics: MetricsSink;
}

export interface MassDeletionGuard {
  /** Hold deletions when more than this share of the known customers would be deleted… */
  readonly ratio: number;
  /** …and more than this many. */
  readonly minimum: number;
}

export interface PollOptions {
  readonly organizationGuid: string;
  /** `resync` also emits a `Customer Snapshot` event for every unchanged customer. */
  readonly mode?: 'poll' | 'resync';
  /** What the first poll of an organization emits for the customers it finds (default `snapshot`). */
  readonly initialEvents?: 'snapshot' | 'none';
  /** Lets deletions held by the mass-deletion guard through. */
  readonly allowMassDeletion?: boolean;
  readonly massDeletionGuard?: MassDeletionGuard;
  /** Epoch ms by which the poll must have stopped (e.g. the Lambda's remaining time). */
  readonly deadline?: number;
  /** Time kept free before the deadline to publish and commit what was found (default 10 s). */
  readonly deadlineReserveMs?: number;
  /**
   * Once aborted (e.g. Ctrl-C), the poll stops at its next safe point as at its deadline: the listing
   * stops (no deletion is decided) and no further chunk is journaled; what was journaled stays recoverable.
   */
  readonly stopSignal?: AbortSignal;
  /** `source` of published events. */
  readonly eventSource?: string;
  readonly pollId?: string;
  /** Lease owner id (default: a random UUID per poll). */
  readonly owner?: string;
  /** Lease duration; renewed every third of it while the poll runs (default 60 s). */
  readonly leaseTtlMs?: number;
  /** Page size of the listing (default 100). */
  readonly pageLimit?: number;
  /** Events journaled, published and committed together (default 500). */
  readonly chunkSize?: number;
  /** Events larger than this (default DEFAULT_MAX_EVENT_BYTES) are reduced before journaling. */
  readonly maxEntryBytes?: number;
  /**
   * Largest customer record kept as a snapshot, in bytes of JSON (default 256 KB, so a snapshot and its
   * journal entry always fit a 400 KB DynamoDB item). A larger record is quarantined like an invalid one.
   */
  readonly maxRecordBytes?: number;
  /**
   * Nutcache requests this poll may send (e.g. what is left of the API key's daily budget). The listing
   * stops when it is spent (no deletion is decided), and so do deletion confirmations; the rest waits for
   * the next poll.
   */
  readonly requestAllowance?: number;
  /**
   * Asked before each further page and each deletion confirmation, with the requests sent so far: false
   * stops there like a spent `requestAllowance` (the poller service reserves more of the daily budget
   * through it, so polls sharing an API key never spend more than the budget between them).
   */
  readonly budgetGate?: (requestsSoFar: number) => Promise<boolean>;
  /** Called for each listed page (progress reporting). */
  readonly onPage?: (pageNumber: number, customersSoFar: number) => void;
}

export type PollOutcome = RunRecord['outcome'];

export interface PollCounts {
  created: number;
  updated: number;
  deleted: number;
  snapshot: number;
  unchanged: number;
  invalid: number;
  duplicatesInListing: number;
  deletionCandidates: number;
  deletionsConfirmedAbsent: number;
  deletionsHeld: number;
  deletionsUnconfirmed: number;
  recoveredFromJournal: number;
  published: number;
  deadLettered: number;
  publishFailed: number;
  committed: number;
  pages: number;
  customersListed: number;
}

export interface PollResult {
  readonly outcome: PollOutcome;
  readonly organizationGuid: string;
  readonly pollId: string;
  readonly pollNumber: number;
  readonly counts: PollCounts;
  readonly nutcacheRequests: number;
  readonly durationMs: number;
  /** The events this poll got accepted by the bus (recovered ones included), in publishing order. */
  readonly publishedEventIds: string[];
  /** Whether the listing reached its last page. */
  readonly listingComplete: boolean;
  /** Set when the lease was held by another poll. */
  readonly busyUntil?: number;
  readonly error?: string;
  /** The error behind `error`, for callers that react to its type (e.g. refresh credentials after a 401). */
  readonly failure?: unknown;
}

export const DEFAULT_MAX_RECORD_BYTES = 256 * 1024;
/**
 * Largest event the engine publishes whole: EventBridge takes 256 KB entries, but a rule target receives
 * the event inside an envelope (id, account, region, time…) and an SQS target holds 256 KB messages, so
 * 2 KB are kept free for it. A larger event is reduced (`truncated: true`).
 */
export const DEFAULT_MAX_EVENT_BYTES = 254 * 1024;
export const DEFAULT_MASS_DELETION_GUARD: MassDeletionGuard = { ratio: 0.25, minimum: 5 };

export function emptyCounts(): PollCounts {
  return {
    created: 0,
    updated: 0,
    deleted: 0,
    snapshot: 0,
    unchanged: 0,
    invalid: 0,
    duplicatesInListing: 0,
    deletionCandidates: 0,
    deletionsConfirmedAbsent: 0,
    deletionsHeld: 0,
    deletionsUnconfirmed: 0,
    recoveredFromJournal: 0,
    published: 0,
    deadLettered: 0,
    publishFailed: 0,
    committed: 0,
    pages: 0,
    customersListed: 0,
  };
}

/** `Name: message` of an error, for logs and the run record. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** The result of a poll that did not run (busy, deferred): nothing counted, nothing sent. */
export function resultOfNoRun(options: PollOptions, outcome: PollOutcome, durationMs: number): PollResult {
  return {
    outcome,
    organizationGuid: options.organizationGuid,
    pollId: options.pollId ?? '',
    pollNumber: 0,
    counts: emptyCounts(),
    nutcacheRequests: 0,
    durationMs,
    publishedEventIds: [],
    listingComplete: false,
  };
}
