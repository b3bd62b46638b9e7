/**
 * `nutcache-cdc poll` (and `resync`): one poll of one organization, or a poll every `--interval` seconds
 * with `--watch`. See `nutcache-cdc poll --help`.
 */
import { parseArgs } from 'node:util';
import type { PollResult } from '../../shared/engine/poll.ts';
import { NutcacheAuthError } from '../../shared/nutcache/errors.ts';
import { apiKeyId, expectedPollCost, nextPollDelay, utcDay } from '../../shared/quota/budget.ts';
import { pollWithCredentials } from '../../shared/runtime/poller-service.ts';
import { systemClock } from '../../shared/util/clock.ts';
import { RecordingMetrics } from '../../shared/util/metrics.ts';
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
  --daily-budget N          Nutcache requests a day for this API key (default 20000)
  --watch                   poll again and again (Ctrl-C stops)
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

export async function runPollCommand(argv: string[], command: 'poll' | 'resync'): Promise<number> {
  let values: ReturnType<
    typeof parseArgs<{ args: string[]; options: typeof OPTIONS; strict: true }>
  >['values'];
  try {
    ({ values } = parseArgs({ args: argv, options: OPTIONS, strict: true }));
  } catch (error) {
    process.stderr.write(`nutcache-cdc ${command}: ${(error as Error).message}\n`);
    return EXIT.usage;
  }
  if (values.help) {
    process.stdout.write(help(command));
    return EXIT.ok;
  }
  let intervalMs: number;
  let dailyBudget: number;
  try {
    intervalMs = positiveInt('interval', values.interval, 300) * 1000;
    dailyBudget = positiveInt('daily-budget', values['daily-budget'], 20_000);
    if (values['initial-events'] && !['snapshot', 'none'].includes(values['initial-events'])) {
      throw new UsageError(`--initial-events must be snapshot or none, got '${values['initial-events']}'`);
    }
    if (values['auth-scheme'] && !['nut-basic', 'bearer'].includes(values['auth-scheme'])) {
      throw new UsageError(`--auth-scheme must be nut-basic or bearer, got '${values['auth-scheme']}'`);
    }
  } catch (error) {
    process.stderr.write(`nutcache-cdc ${command}: ${(error as Error).message}\n`);
    return EXIT.usage;
  }

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
  const metrics = new RecordingMetrics();
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const progress = (pages: number, customers: number) => {
    if (pages % 10 === 0) process.stderr.write(`  listed ${customers} customers (${pages} pages)…\n`);
  };

  let exitCode: number = EXIT.ok;
  try {
    process.stderr.write(
      `nutcache-cdc ${command}: organization ${secret.organizationGuid} → ${publishing.description}; snapshots in ${opened.description}\n`,
    );
    for (;;) {
      const throttledBefore = client.throttledCount;
      const result = await pollWithCredentials(
        {
          store: opened.store,
          bus: publishing.bus,
          deadLetters: publishing.deadLetters,
          clock: systemClock,
          log,
          metrics,
          getSecret: async () => secret,
          canRefreshSecret: false,
          createSource: () => client,
          quota: { store: opened.quota, dailyBudget },
        },
        {
          organizationGuid: secret.organizationGuid,
          // A plain poll names no mode, so it carries on a resync that was cut short.
          ...(command === 'resync' ? { mode: 'resync' as const } : {}),
          initialEvents: (values['initial-events'] as 'snapshot' | 'none' | undefined) ?? 'snapshot',
          allowMassDeletion: values['allow-mass-deletion'] ?? false,
          ...(values['event-source'] ? { eventSource: values['event-source'] } : {}),
          onPage: progress,
        },
      );
      process.stderr.write(`${summarize(result)}\n`);
      exitCode = exitCodeOf(result);
      if (!values.watch || command === 'resync' || stop.signal.aborted) break;
      const now = systemClock.now();
      const delay = nextPollDelay({
        configuredIntervalMs: intervalMs,
        recent429s: client.throttledCount - throttledBefore,
        usedToday: await opened.quota.used(apiKeyId(secret.apiKey), utcDay(now)),
        dailyBudget,
        now,
        expectedCost: expectedPollCost(result.counts.pages > 0 ? { lastPages: result.counts.pages } : {}),
      });
      if (delay.reason !== 'configured') {
        process.stderr.write(`  next poll in ${Math.round(delay.delayMs / 1000)} s (${delay.reason})\n`);
      }
      try {
        await systemClock.sleep(delay.delayMs, stop.signal);
      } catch {
        break;
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await opened.close();
  }
  return exitCode;
}

export function run(argv: string[]): Promise<number> {
  return runPollCommand(argv, 'poll');
}
