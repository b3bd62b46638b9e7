/**
 * What every phase of one poll shares once the lease is held: the dependencies and options, the poll's
 * identity, its counts and published event ids (accumulated by the phases), the lease, and the limits it
 * runs under (deadline, request allowance).
 */

import type { BusEvent } from '../events/contract.ts';
import { DEFAULT_EVENT_SOURCE } from '../events/contract.ts';
import type { OrgState } from '../ports.ts';
import { type PublishOptions, type PublishOutcome, publishEvents } from '../publish/reliable.ts';
import type { ChangeContext } from './events.ts';
import type { LeaseKeeper } from './lease-keeper.ts';
import {
  emptyCounts,
  type PollCounts,
  type PollDependencies,
  type PollOptions,
  type PollOutcome,
} from './poll-types.ts';

export interface PollRun {
  readonly deps: PollDependencies;
  readonly options: PollOptions;
  readonly org: string;
  readonly pollNumber: number;
  readonly pollId: string;
  readonly mode: 'poll' | 'resync';
  readonly state: OrgState;
  readonly ctx: ChangeContext;
  readonly startedAtMs: number;
  /** Fields every log line of the poll carries. */
  readonly runLog: Readonly<Record<string, unknown>>;
  readonly counts: PollCounts;
  readonly publishedEventIds: string[];
  readonly lease: LeaseKeeper;
  /** The source's request count when the poll started. */
  readonly requestsAtStart: number;
}

/** Why a phase stopped the poll short of success: the outcome, and what to report of it. */
export interface Stop {
  readonly outcome: PollOutcome;
  readonly error?: string;
  readonly failure?: unknown;
}

export interface RunIdentity {
  readonly org: string;
  readonly pollNumber: number;
  readonly pollId: string;
  readonly mode: 'poll' | 'resync';
  readonly state: OrgState;
  readonly startedAtMs: number;
  readonly requestsAtStart: number;
}

export function openRun(
  deps: PollDependencies,
  options: PollOptions,
  identity: RunIdentity,
  lease: LeaseKeeper,
): PollRun {
  const { org, pollId, pollNumber, mode } = identity;
  const ctx: ChangeContext = {
    organizationGuid: org,
    source: options.eventSource ?? DEFAULT_EVENT_SOURCE,
    pollId,
    sequence: pollNumber,
    observedAt: new Date(identity.startedAtMs).toISOString(),
  };
  return {
    ...identity,
    deps,
    options,
    ctx,
    runLog: { organizationGuid: org, pollId, pollNumber, mode },
    counts: emptyCounts(),
    publishedEventIds: [],
    lease,
  };
}

/** Requests the poll has sent so far. */
export function requestsSent(run: PollRun): number {
  return run.deps.source.requestCount - run.requestsAtStart;
}

/** Whether the poll may send more requests (its allowance and budget gate). */
export async function mayContinue(run: PollRun): Promise<boolean> {
  const sent = requestsSent(run);
  const { requestAllowance, budgetGate } = run.options;
  if (requestAllowance !== undefined && sent >= requestAllowance) return false;
  return budgetGate ? budgetGate(sent) : true;
}

/** How a log line names the reason a poll stops early: an operator's request (Ctrl-C) or the deadline. */
export function stopReason(run: PollRun, atDeadline: string): string {
  return stopRequested(run) ? 'stopped on request' : atDeadline;
}

/** An operator asked the poll to stop (Ctrl-C): it then winds up as at its deadline. */
function stopRequested(run: PollRun): boolean {
  return run.options.stopSignal?.aborted === true;
}

/** Whether only the time kept free to publish and commit is left before the deadline. */
export function nearDeadline(run: PollRun): boolean {
  if (stopRequested(run)) return true;
  const { deadline, deadlineReserveMs } = run.options;
  return deadline !== undefined && run.deps.clock.now() >= deadline - (deadlineReserveMs ?? 10_000);
}

export function pastDeadline(run: PollRun): boolean {
  if (stopRequested(run)) return true;
  const deadline = run.options.deadline;
  return deadline !== undefined && run.deps.clock.now() >= deadline;
}

/** Publishes events through the reliable publisher; what the bus accepted is added to the poll's tally. */
export async function publish(run: PollRun, events: readonly BusEvent[]): Promise<PublishOutcome> {
  const { bus, deadLetters, clock, log, metrics } = run.deps;
  const { deadline, maxEntryBytes } = run.options;
  const publishOptions: PublishOptions = {
    ...(deadline !== undefined ? { deadline } : {}),
    ...(maxEntryBytes !== undefined ? { maxEntryBytes } : {}),
  };
  const outcome = await publishEvents(events, { bus, deadLetters, clock, log, metrics }, publishOptions);
  run.publishedEventIds.push(...outcome.published);
  run.counts.published += outcome.published.length;
  return outcome;
}
