/**
 * What a poll's result means to the person who ran it: a short reason, a hint naming the setting to fix,
 * and the exit status. A configuration mistake (wrong credentials, an organization the credentials cannot
 * see, a base URL that is not the Nutcache API or cannot be reached) exits 1 — the next poll would only
 * repeat it; 3 is kept for real partial progress the next poll finishes.
 */
import type { PollResult } from '../../shared/engine/poll.ts';
import {
  NutcacheAuthError,
  NutcacheHttpError,
  NutcacheNetworkError,
  NutcacheResponseError,
  NutcacheResponseTooLargeError,
} from '../../shared/nutcache/errors.ts';

export const EXIT = { ok: 0, failed: 1, usage: 64, incomplete: 3, held: 4, busy: 75 } as const;

/** `1 poll`, `2 polls`. */
export function plural(count: number, singular: string, pluralForm = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : pluralForm}`;
}

export interface Diagnosis {
  /** One line: what went wrong. */
  readonly reason: string;
  /** One line: what to change. */
  readonly hint?: string;
  /** The exit status, when it is not the outcome's. */
  readonly exit?: number;
}

/** What the user can check for a setting, given where the poll got it from. */
export interface Settings {
  /** The Nutcache API base URL used. */
  readonly baseUrl: string;
}

const BASE_URL_HINT = "check --base-url (Nutcache's API is https://apps.nutcache.com/webapi/)";

/** The `message` of a JSON error body, else the excerpt as it is. */
function bodyMessage(excerpt: string): string {
  try {
    const body = JSON.parse(excerpt) as { message?: unknown; Message?: unknown; error?: unknown };
    const message = body.message ?? body.Message ?? body.error;
    if (typeof message === 'string') return message;
  } catch {
    // not JSON: the excerpt says it best
  }
  return excerpt.trim();
}

function httpReason(error: NutcacheHttpError): string {
  const message = bodyMessage(error.excerpt);
  return `HTTP ${error.status}${message ? `: ${message}` : ''}`;
}

function networkReason(error: NutcacheNetworkError): string {
  if (error.timedOut) return `timed out on all ${error.attempts} attempts`;
  const code = /\b(E[A-Z_]{3,})\b/.exec(error.message)?.[1];
  const words: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ENOTFOUND: 'host not found',
    EAI_AGAIN: 'host name lookup failed',
    ECONNRESET: 'connection reset',
  };
  return `${(code && words[code]) ?? 'network error'} on all ${error.attempts} attempts`;
}

/** Whether the poll got nothing done (no page listed, nothing published): a failure of its setup. */
function nothingDone(result: PollResult): boolean {
  const c = result.counts;
  return c.pages === 0 && c.published === 0 && c.recoveredFromJournal === 0;
}

/** A failure the user must fix in the configuration, whatever the outcome says. */
function configurationMistake(result: PollResult, settings: Settings): Diagnosis | undefined {
  const failure = result.failure;
  const failed = { exit: EXIT.failed };
  if (failure instanceof NutcacheAuthError) {
    return {
      reason: `Nutcache rejected the credentials with ${httpReason(failure)}`,
      hint: 'check NUTCACHE_API_KEY, NUTCACHE_USERNAME and NUTCACHE_PASSWORD (or the secret of --secret-id)',
      ...failed,
    };
  }
  if (failure instanceof NutcacheHttpError && failure.status === 403) {
    return {
      reason: `Nutcache refused organization ${result.organizationGuid} with ${httpReason(failure)}`,
      hint: "check the organization GUID: --organization or NUTCACHE_ORGANIZATION_GUID (or the secret's organizationGuid)",
      ...failed,
    };
  }
  if (!nothingDone(result)) return undefined;
  const origin = new URL(settings.baseUrl).origin;
  if (failure instanceof NutcacheHttpError && failure.status === 404) {
    return {
      reason: `${origin} answered ${failure.method} ${failure.path} with ${httpReason(failure)}`,
      hint: BASE_URL_HINT,
      ...failed,
    };
  }
  if (failure instanceof NutcacheResponseError && !(failure instanceof NutcacheResponseTooLargeError)) {
    return {
      reason: `${origin}${failure.path} is not the Nutcache API: it answered ${failure.status}, ${failure.problem}`,
      hint: BASE_URL_HINT,
      ...failed,
    };
  }
  if (failure instanceof NutcacheNetworkError) {
    return {
      reason: `cannot reach Nutcache at ${origin}: ${networkReason(failure)}`,
      hint: `${BASE_URL_HINT}, and that this machine can reach it`,
      ...failed,
    };
  }
  return undefined;
}

/** The reason, hint and exit status of a result that is not a plain success (undefined for one). */
export function diagnose(result: PollResult, settings: Settings): Diagnosis | undefined {
  const mistake = configurationMistake(result, settings);
  if (mistake) return mistake;
  if (result.outcome === 'held') {
    return {
      reason: `${plural(result.counts.deletionsHeld, 'deletion')} held by the mass-deletion guard (too many known customers are missing from the listing)`,
      hint: 'check those customers in Nutcache; if they really were deleted, poll once with --allow-mass-deletion',
    };
  }
  if (result.error) return { reason: result.error.split('\n')[0] ?? result.error };
  return undefined;
}

/** The exit status of a poll's result. */
export function exitStatus(result: PollResult, diagnosis: Diagnosis | undefined): number {
  if (diagnosis?.exit !== undefined) return diagnosis.exit;
  switch (result.outcome) {
    case 'success':
      return EXIT.ok;
    case 'held':
      return EXIT.held;
    case 'busy':
    case 'deferred':
      return EXIT.busy;
    case 'partial':
    case 'deadline':
      return EXIT.incomplete;
    default:
      return EXIT.failed;
  }
}

/** The counts worth showing, in words. */
export function countsInWords(result: PollResult): string[] {
  const c = result.counts;
  return [
    `${c.created} created`,
    `${c.updated} updated`,
    `${c.deleted} deleted`,
    ...(c.snapshot ? [plural(c.snapshot, 'snapshot')] : []),
    `${c.unchanged} unchanged`,
    ...(c.invalid ? [`${c.invalid} invalid`] : []),
    ...(c.deletionsHeld && result.outcome !== 'held' ? [`${plural(c.deletionsHeld, 'deletion')} held`] : []),
    ...(c.recoveredFromJournal
      ? [`${c.recoveredFromJournal} re-published from the journal of an earlier poll`]
      : []),
  ];
}

/**
 * `poll <id> <outcome> (<reason>): <counts>; <n> Nutcache requests, <ms> ms`, and the hint as a second
 * line. A configuration mistake shows as `failed`, without the counts (nothing was done).
 */
export function describeResult(result: PollResult, diagnosis: Diagnosis | undefined): string[] {
  const label = diagnosis?.exit === EXIT.failed ? 'failed' : result.outcome;
  const why = diagnosis ? ` (${diagnosis.reason})` : '';
  const counts =
    diagnosis?.exit === EXIT.failed && nothingDone(result) ? '' : `: ${countsInWords(result).join(', ')}`;
  const cost = `${plural(result.nutcacheRequests, 'Nutcache request')}, ${result.durationMs} ms`;
  const line = `poll ${result.pollId || '-'} ${label}${why}${counts}; ${cost}`;
  return diagnosis?.hint ? [line, `  hint: ${diagnosis.hint}`] : [line];
}

/**
 * A poll's result as `poll --json` prints it (one line): what the summary line says, as data. `outcome` is
 * `failed` for a configuration mistake, as in the summary; `error` is the engine's message.
 */
export function resultJson(result: PollResult, diagnosis: Diagnosis | undefined): string {
  return JSON.stringify({
    pollId: result.pollId || null,
    organizationGuid: result.organizationGuid,
    outcome: diagnosis?.exit === EXIT.failed ? 'failed' : result.outcome,
    counts: result.counts,
    nutcacheRequests: result.nutcacheRequests,
    durationMs: result.durationMs,
    ...(result.busyUntil !== undefined ? { busyUntil: new Date(result.busyUntil).toISOString() } : {}),
    ...(result.error ? { error: result.error } : {}),
    ...(diagnosis
      ? { diagnosis: { reason: diagnosis.reason, ...(diagnosis.hint ? { hint: diagnosis.hint } : {}) } }
      : {}),
    exitStatus: exitStatus(result, diagnosis),
  });
}
