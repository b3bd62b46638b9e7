/**
 * `nutcache-cdc poll` (and `resync`): one poll of one organization, or a poll every `--interval` seconds
 * with `--watch`. See `nutcache-cdc poll --help`.
 */
import type { PollOptions, PollResult } from '../../shared/engine/poll.ts';
import type { NutcacheClient } from '../../shared/nutcache/client.ts';
import { NutcacheAuthError } from '../../shared/nutcache/errors.ts';
import type { NutcacheSecret } from '../../shared/nutcache/secret.ts';
import { apiKeyId, DEFAULT_DAILY_BUDGET, type QuotaStore, utcDay } from '../../shared/quota/budget.ts';
import { delayAfterPoll, throttlesSince } from '../../shared/quota/policy.ts';
import { type PollerServiceDeps, pollWithCredentials } from '../../shared/runtime/poller-service.ts';
import { systemClock } from '../../shared/util/clock.ts';
import { RecordingMetrics } from '../../shared/util/metrics.ts';
import { type OptionValues, parseCommandLine, showHelp, usageError } from '../lib/args.ts';
import { createCliLog } from '../lib/log.ts';
import { createClient, loadCredentials, openPublishing, openStore } from '../lib/runtime.ts';

export const EXIT = { ok: 0, failed: 1, usage: 64, incomplete: 3, busy: 75 } as const;

const help = (command: 'poll' | 'resync') => `Usage: nutcache-cdc ${command} [options]

${
  command === 'poll'
    ? 'Polls one Nutcache organization once, publishes its customer changes, commits the snapshots.'
    : 'Publishes a Customer Snapshot event for every current customer (and the changes as changes).'
}

Nutcache:
  --base-url URL            API base (default https://apps.nutcache.com/webapi/)
  --organization GUID       organization (default NUTCACHE_ORGANIZATION_GUID or the secret's)
  --secret-id ID            read credentials from Secrets Manager instead of NUTCACHE_API_KEY,
                            NUTCACHE_USERNAME, NUTCACHE_PASSWORD, NUTCACHE_ORGANIZATION_GUID
  --auth-scheme S           nut-basic (default) or bearer
Snapshots:
  --table NAME              a DynamoDB table (standard AWS SDK configuration, AWS_ENDPOINT_URL_DYNAMODB…)
  --state-dir DIR           embedded DynamoDB directory when no --table (default ./.nutcache-cdc)
Events:
  --event-bus NAME          publish to this EventBridge bus (standard AWS SDK configuration)
  --events-file PATH        write events as JSON lines to PATH (default: stdout)
  --webhook-url URL         deliver each event as a Standard Webhooks signed POST…
  --webhook-secret whsec_…  …signed with this secret
  --pretty                  print events readably on stdout
  --event-source S          event source (default nutcache.customers)
  --dead-letter-queue-url U SQS queue for events that can never be published (default: a file in --state-dir)
Behaviour:
  --initial-events MODE     what the first poll emits: snapshot (default) or none
  --allow-mass-deletion     let deletions held by the mass-deletion guard through
  --daily-budget N          Nutcache requests a day for this API key (default ${DEFAULT_DAILY_BUDGET})
  --watch                   poll again and again (Ctrl-C stops)
  --all                     poll every registered organization once (nutcache-cdc poll --all --help)
  --interval SECONDS        pause between polls with --watch (default 300; lengthened under 429s or a low budget)
  --verbose                 log progress details on stderr
  -h, --help                this help

Exit status: 0 success, 1 failure, 3 incomplete (a listing, publish or deadline cut it short; the next
poll finishes it), 75 another poll holds the organization's lease or the daily budget is spent, 64 usage.
`;

const OPTIONS = {
  'base-url': { type: 'string' },
  organization: { type: 'string' },
  'secret-id': { type: 'string' },
  'auth-scheme': { type: 'string' },
  table: { type: 'string' },
  'state-dir': { type: 'string' },
  'event-bus': { type: 'string' },
  'events-file': { type: 'string' },
  'webhook-url': { type: 'string' },
  'webhook-secret': { type: 'string' },
  pretty: { type: 'boolean' },
  'event-source': { type: 'string' },
  'dead-letter-queue-url': { type: 'string' },
  'initial-events': { type: 'string' },
  'allow-mass-deletion': { type: 'boolean' },
  'daily-budget': { type: 'string' },
  watch: { type: 'boolean' },
  interval: { type: 'string' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

class UsageError extends Error {}

function positiveInt(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^[0-9]+$/.test(raw) || !Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(`--${name} must be a whole number >= 1, got '${raw}'`);
  }
  return n;
}

export function summarize(result: PollResult): string {
  if (result.outcome === 'busy') {
    const until = result.busyUntil !== undefined ? ` until ${new Date(result.busyUntil).toISOString()}` : '';
    return `poll - busy: another poll of organization ${result.organizationGuid} holds the lease${until}; nothing was done`;
  }
  const c = result.counts;
  const parts = [
    `${c.created} created`,
    `${c.updated} updated`,
    `${c.deleted} deleted`,
    ...(c.snapshot ? [`${c.snapshot} snapshots`] : []),
    `${c.unchanged} unchanged`,
    ...(c.invalid ? [`${c.invalid} invalid`] : []),
    ...(c.deletionsHeld ? [`${c.deletionsHeld} deletions held`] : []),
    ...(c.recoveredFromJournal ? [`${c.recoveredFromJournal} re-published after a crash`] : []),
  ];
  const why =
    result.failure instanceof NutcacheAuthError
      ? ' (Nutcache rejected the credentials: check NUTCACHE_API_KEY, NUTCACHE_USERNAME, NUTCACHE_PASSWORD or the secret)'
      : result.error
        ? ` (${result.error})`
        : '';
  return `poll ${result.pollId || '-'} ${result.outcome}${why}: ${parts.join(', ')}; ${result.nutcacheRequests} Nutcache requests, ${result.durationMs} ms`;
}

export function exitCodeOf(result: PollResult): number {
  // Wrong credentials are not an incomplete poll the next one finishes: they need the user.
  if (result.failure instanceof NutcacheAuthError) return EXIT.failed;
  switch (result.outcome) {
    case 'success':
      return EXIT.ok;
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

type PollValues = OptionValues<typeof OPTIONS>;

interface PollSettings {
  readonly intervalMs: number;
  readonly dailyBudget: number;
}

/** The numbers and choices of the command line, checked (throws UsageError). */
function pollSettings(values: PollValues): PollSettings {
  const intervalMs = positiveInt('interval', values.interval, 300) * 1000;
  const dailyBudget = positiveInt('daily-budget', values['daily-budget'], DEFAULT_DAILY_BUDGET);
  if (values['initial-events'] && !['snapshot', 'none'].includes(values['initial-events'])) {
    throw new UsageError(`--initial-events must be snapshot or none, got '${values['initial-events']}'`);
  }
  if (values['auth-scheme'] && !['nut-basic', 'bearer'].includes(values['auth-scheme'])) {
    throw new UsageError(`--auth-scheme must be nut-basic or bearer, got '${values['auth-scheme']}'`);
  }
  return { intervalMs, dailyBudget };
}

export async function runPollCommand(argv: string[], command: 'poll' | 'resync'): Promise<number> {
  if (command === 'poll' && argv.includes('--all'))
    return (await import('../lib/poll-all.ts')).runPollAll(argv);
  const values = parseCommandLine(command, argv, OPTIONS);
  if (typeof values === 'number') return values;
  if (values.help) return showHelp(help(command));
  let settings: PollSettings;
  try {
    settings = pollSettings(values);
  } catch (error) {
    return usageError(command, (error as Error).message);
  }
  const session = await openSession(values, command, settings);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    process.stderr.write(`nutcache-cdc ${command}: ${session.description}\n`);
    const watch = values.watch === true && command !== 'resync';
    return await pollRepeatedly(session, settings, watch, stop.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await session.close();
  }
}

/** What a poll of this command line needs: its credentials, client, store, publishing and options. */
interface PollSession {
  readonly secret: NutcacheSecret;
  readonly client: NutcacheClient;
  readonly quota: QuotaStore;
  readonly deps: PollerServiceDeps;
  readonly options: PollOptions;
  readonly description: string;
  close(): Promise<void>;
}

async function openSession(
  values: PollValues,
  command: 'poll' | 'resync',
  settings: PollSettings,
): Promise<PollSession> {
  const log = createCliLog(values.verbose ? 'debug' : 'warn');
  const stateDir = values['state-dir'] ?? '.nutcache-cdc';
  const secret = await loadCredentials({
    ...(values['secret-id'] ? { secretId: values['secret-id'] } : {}),
    ...(values['base-url'] ? { baseUrl: values['base-url'] } : {}),
    ...(values.organization ? { organizationGuid: values.organization } : {}),
    ...(values['auth-scheme'] ? { authScheme: values['auth-scheme'] as 'nut-basic' | 'bearer' } : {}),
  });
  const client = createClient(secret, log);
  const publishing = await openPublishing({
    stateDir,
    log,
    ...(values['event-bus'] ? { eventBus: values['event-bus'] } : {}),
    ...(values['events-file'] ? { eventsFile: values['events-file'] } : {}),
    ...(values['webhook-url'] ? { webhookUrl: values['webhook-url'] } : {}),
    ...(values['webhook-secret'] ? { webhookSecret: values['webhook-secret'] } : {}),
    ...(values['dead-letter-queue-url'] ? { deadLetterQueueUrl: values['dead-letter-queue-url'] } : {}),
    ...(values.pretty ? { pretty: true } : {}),
  });
  const opened = await openStore({ stateDir, ...(values.table ? { table: values.table } : {}) });
  return {
    secret,
    client,
    quota: opened.quota,
    deps: {
      store: opened.store,
      bus: publishing.bus,
      deadLetters: publishing.deadLetters,
      clock: systemClock,
      log,
      metrics: new RecordingMetrics(),
      getSecret: async () => secret,
      canRefreshSecret: false,
      createSource: () => client,
      quota: { store: opened.quota, dailyBudget: settings.dailyBudget },
    },
    options: pollOptions(values, command, secret),
    description: `organization ${secret.organizationGuid} → ${publishing.description}; snapshots in ${opened.description}`,
    close: () => opened.close(),
  };
}

function pollOptions(values: PollValues, command: 'poll' | 'resync', secret: NutcacheSecret): PollOptions {
  return {
    organizationGuid: secret.organizationGuid,
    // A plain poll names no mode, so it carries on a resync that was cut short.
    ...(command === 'resync' ? { mode: 'resync' as const } : {}),
    initialEvents: (values['initial-events'] as 'snapshot' | 'none' | undefined) ?? 'snapshot',
    allowMassDeletion: values['allow-mass-deletion'] ?? false,
    ...(values['event-source'] ? { eventSource: values['event-source'] } : {}),
    onPage: (pages: number, customers: number) => {
      if (pages % 10 === 0) process.stderr.write(`  listed ${customers} customers (${pages} pages)…\n`);
    },
  };
}

/** Polls once, or with `watch` again and again (paced by the quota policy) until stopped; the last exit status. */
async function pollRepeatedly(
  session: PollSession,
  settings: PollSettings,
  watch: boolean,
  signal: AbortSignal,
): Promise<number> {
  for (;;) {
    const throttles = throttlesSince(session.client);
    const result = await pollWithCredentials(session.deps, session.options);
    process.stderr.write(`${summarize(result)}\n`);
    const exitCode = exitCodeOf(result);
    if (!watch || signal.aborted) return exitCode;
    const now = systemClock.now();
    const delay = delayAfterPoll({
      configuredIntervalMs: settings.intervalMs,
      recent429s: throttles(),
      usedToday: await session.quota.used(apiKeyId(session.secret.apiKey), utcDay(now)),
      dailyBudget: settings.dailyBudget,
      now,
      pages: result.counts.pages,
    });
    if (delay.reason !== 'configured') {
      process.stderr.write(`  next poll in ${Math.round(delay.delayMs / 1000)} s (${delay.reason})\n`);
    }
    try {
      await systemClock.sleep(delay.delayMs, signal);
    } catch {
      return exitCode;
    }
  }
}

export function run(argv: string[]): Promise<number> {
  return runPollCommand(argv, 'poll');
}
