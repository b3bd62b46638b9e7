/**
 * The lease's conditional writes on the organization's state item, each clause named after the rule it
 * states, then joined. Attribute names: #owner leaseOwner, #exp leaseExpiresAt, #poll pollNumber.
 */

/** Nobody holds the lease. */
const LEASE_FREE = 'attribute_not_exists(#owner)';
/** The holder stopped renewing: its lease ran out before `:now`. */
const LEASE_EXPIRED = '#exp < :now';
/** The lease is already held by this poll's owner (`:owner`). */
export const HELD_BY_THIS_POLL = '#owner = :owner';
/** Somebody holds the lease (expired or not). */
export const LEASE_HELD = 'attribute_exists(#owner)';
/** The holder is `:gone`: a process of this host found no longer running. */
const HELD_BY_GONE_PROCESS = '#owner = :gone';
/** The lease may be taken: free, expired, or already ours. */
const TAKEABLE_CLAUSES = [LEASE_FREE, LEASE_EXPIRED, HELD_BY_THIS_POLL];
const LEASE_TAKEABLE = `(${TAKEABLE_CLAUSES.join(' OR ')})`;
/** …or held by the gone process `:gone`. */
const LEASE_TAKEABLE_FROM_GONE = `(${[...TAKEABLE_CLAUSES, HELD_BY_GONE_PROCESS].join(' OR ')})`;

/** No poll number yet, or the stored one is behind the clock in seconds (`:clock`). */
const POLL_NUMBER_BEHIND_CLOCK = '(attribute_not_exists(#poll) OR #poll < :clock)';
/** The stored poll number has caught up with the clock in seconds. */
const POLL_NUMBER_AT_CLOCK_OR_AHEAD = '#poll >= :clock';

/** What every acquisition sets: the holder, its expiry, and the state item's identity. */
const TAKE_LEASE = 'SET #owner = :owner, #exp = :exp, #guid = :guid, #init = if_not_exists(#init, :false)';

export const LEASE_ATTRIBUTE_NAMES = {
  '#owner': 'leaseOwner',
  '#exp': 'leaseExpiresAt',
  '#guid': 'organizationGuid',
  '#init': 'initialized',
  '#poll': 'pollNumber',
} as const;

/**
 * One way to take the lease and hand out the next poll number (`nextPollNumber`: the clock in seconds
 * when the stored number is below it, else the stored number plus one). Each form is right for one side of
 * that rule and states it in its condition, so one conditional UpdateItem does both.
 */
export interface AcquireForm {
  readonly update: string;
  readonly condition: string;
  readonly extraValues: Readonly<Record<string, number>>;
}

/** The poll number becomes the clock in seconds: the stored one is behind it (the usual case). */
function pollNumberFromClock(takeable: string): AcquireForm {
  return {
    update: `${TAKE_LEASE}, #poll = :clock`,
    condition: `${takeable} AND ${POLL_NUMBER_BEHIND_CLOCK}`,
    extraValues: {},
  };
}

/** The poll number becomes the stored one plus one: it has caught up with the clock. */
function pollNumberIncremented(takeable: string): AcquireForm {
  return {
    update: `${TAKE_LEASE} ADD #poll :one`,
    condition: `${takeable} AND ${POLL_NUMBER_AT_CLOCK_OR_AHEAD}`,
    extraValues: { ':one': 1 },
  };
}

const FORMS = [pollNumberFromClock(LEASE_TAKEABLE), pollNumberIncremented(LEASE_TAKEABLE)] as const;
const TAKE_OVER_FORMS = [
  pollNumberFromClock(LEASE_TAKEABLE_FROM_GONE),
  pollNumberIncremented(LEASE_TAKEABLE_FROM_GONE),
] as const;

/**
 * The form to try at attempt `attempt` (0-based): the clock form first; when a free lease still fails the
 * condition, its poll-number half was the wrong one, so the attempts alternate. With `takeOver`, the
 * condition also lets the lease of the gone process `:gone` be taken.
 */
export function acquireForm(attempt: number, takeOver = false): AcquireForm {
  const forms = takeOver ? TAKE_OVER_FORMS : FORMS;
  return forms[attempt % 2] ?? forms[0];
}
