/**
 * `nutcache-cdc poll` (and `resync`): one poll of one organization, or a poll every `--interval` seconds
 * with `--watch`. See `nutcache-cdc poll --help`.
 */
import type { PollOptions, PollResult } from '../../shared/engine/poll.ts';
import type { NutcacheClient } from '../../shared/nutcache/client.ts';
import { DEFAULT_BASE_URL } from '../../shared/nutcache/client.ts';
import type { NutcacheSecret } from '../../shared/nutcache/secret.ts';
import { apiKeyId, DEFAULT_DAILY_BUDGET, type QuotaStore, utcDay } from '../../shared/quota/budget.ts';
import { delayAfterPoll, throttlesSince } from '../../shared/quota/policy.ts';
import { type PollerServiceDeps, pollWithCredentials } from '../../shared/runtime/poller-service.ts';
import { type LeaseInspection, processLeaseOwner } from '../../shared/store/lease-rules.ts';
import { systemClock } from '../../shared/util/clock.ts';
import { RecordingMetrics } from '../../shared/util/metrics.ts';
import {
  checkWebhookOptions,
  guidOption,
  numberOption,
  type OptionValues,
  parseCommandLine,
  showHelp,
  UsageError,
  urlOption,
  usageError,
} from '../lib/args.ts';
import { openCrmDelivery } from '../lib/crm-rules.ts';
import { breakLeaseOf, busyLine } from '../lib/lease-text.ts';
import { createCliLog } from '../lib/log.ts';
import { describeResult, diagnose, EXIT, exitStatus, resultJson } from '../lib/outcome.ts';
import { createClient, loadCredentials, openPublishing, openStore } from '../lib/runtime.ts';
import { stopOnSignals } from '../lib/signals.ts';

export { EXIT };

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
  --events-file PATH        append events as JSON lines to PATH (default: stdout)
  --webhook-url URL         deliver each event as a Standard Webhooks signed POST…
  --webhook-secret whsec_…  …signed with this secret
  --pretty                  print events readably on stdout
  --event-source S          event source (default nutcache.customers)
  --dead-letter-queue-url U SQS queue for events that can never be published (default: a file in --state-dir)
  --rules FILE              also deliver each event to the CRM target (hubspot, salesforce) of every rule of
                            FILE it matches, as the deployed rule would (tokens: HUBSPOT_TOKEN,
                            SALESFORCE_ACCESS_TOKEN)
Behaviour:
  --initial-events MODE     what the first poll emits: snapshot (default) or none
  --allow-mass-deletion     let deletions held by the mass-deletion guard through
  --break-lease             take the organization's lease from a holder that cannot be seen to run (another
                            host, a stuck poll); refused while it is a running process of this host
  --daily-budget N          Nutcache requests a day for this API key (default ${DEFAULT_DAILY_BUDGET})
  --watch                   poll again and again (Ctrl-C stops after the current step)
  --all                     poll every registered organization once (nutcache-cdc poll --all --help)
  --interval SECONDS        pause between polls with --watch (default 300; lengthened under 429s or a low budget)
  --verbose                 log progress details on stderr (a failure shows one line and a hint without it)
  --json                    print each poll's result as one JSON object on stdout (pollId, outcome, counts,
                            nutcacheRequests, durationMs, error, diagnosis {reason, hint}, exitStatus); needs
                            the events elsewhere (--events-file PATH, --event-bus or --webhook-url)
  -h, --help                this help

Exit status: 0 success; 1 failure (wrong credentials, organization or base URL, and what the next poll
would only repeat); 3 incomplete (a listing, publish or deadline cut it short: the next poll finishes it);
4 held (all published and committed, but the mass-deletion guard held deletions: check them, then poll
with --allow-mass-deletion); 64 usage; 75 another poll holds the organization's lease or the daily budget
is spent; 130 stopped by Ctrl-C (the first stops after the current step, keeping every guarantee;
a second aborts).
`;

/** What a usage error shows under its message: the synopsis and where the options are listed. */
const briefUsage = (command: 'poll' | 'resync') =>
  `Usage: nutcache-cdc ${command} [options]\nRun 'nutcache-cdc ${command} --help' for the options.`;

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
  rules: { type: 'string' },
  'initial-events': { type: 'string' },
  'allow-mass-deletion': { type: 'boolean' },
  'break-lease': { type: 'boolean' },
  'daily-budget': { type: 'string' },
  watch: { type: 'boolean' },
  interval: { type: 'string' },
  verbose: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The lines that report a poll's result (the base URL it used names the host of a connection failure). */
export function summarize(result: PollResult, baseUrl = DEFAULT_BASE_URL): string {
  if (result.outcome === 'busy') {
    const until = result.busyUntil !== undefined ? ` until ${new Date(result.busyUntil).toISOString()}` : '';
    return `poll - busy: another poll of organization ${result.organizationGuid} holds the lease${until}; nothing was done`;
  }
  return describeResult(result, diagnose(result, { baseUrl })).join('\n');
}

export function exitCodeOf(result: PollResult, baseUrl = DEFAULT_BASE_URL): number {
  return exitStatus(result, diagnose(result, { baseUrl }));
}

type PollValues = OptionValues<typeof OPTIONS>;

interface PollSettings {
  readonly intervalMs: number;
  readonly dailyBudget: number;
  /** `--json`: each poll's result as a JSON line on stdout. */
  readonly json: boolean;
}

/**
 * The numbers, choices, URLs, secret and organization of the command line, checked before credentials
 * are loaded or anything is contacted (throws UsageError naming the option).
 */
function pollSettings(values: PollValues, env: NodeJS.ProcessEnv = process.env): PollSettings {
  const intervalMs = numberOption('interval', values.interval, 300, { min: 1 }) * 1000;
  const dailyBudget = numberOption('daily-budget', values['daily-budget'], DEFAULT_DAILY_BUDGET, { min: 1 });
  checkDestinations(values);
  if (values.organization !== undefined) guidOption('--organization', values.organization);
  else if (!values['secret-id'] && env.NUTCACHE_ORGANIZATION_GUID) {
    guidOption('NUTCACHE_ORGANIZATION_GUID', env.NUTCACHE_ORGANIZATION_GUID);
  }
  if (values['initial-events'] && !['snapshot', 'none'].includes(values['initial-events'])) {
    throw new UsageError(`--initial-events must be snapshot or none, got '${values['initial-events']}'`);
  }
  if (values['auth-scheme'] && !['nut-basic', 'bearer'].includes(values['auth-scheme'])) {
    throw new UsageError(`--auth-scheme must be nut-basic or bearer, got '${values['auth-scheme']}'`);
  }
  if (values.json) checkJsonOutput(values);
  return { intervalMs, dailyBudget, json: values.json === true };
}

/** `--json` writes results on stdout: the events must go elsewhere. */
function checkJsonOutput(values: PollValues): void {
  const toFile = values['events-file'] !== undefined && values['events-file'] !== '-';
  if (values.pretty || !(toFile || values['event-bus'] || values['webhook-url'])) {
    throw new UsageError(
      `--json prints results on stdout, where the events go now${values.pretty ? ' (--pretty)' : ''}: send them to --events-file PATH (or --event-bus, --webhook-url)`,
    );
  }
}

/** The URLs and the webhook secret, each named by its option when wrong (never showing a secret). */
function checkDestinations(values: PollValues): void {
  for (const name of ['base-url', 'dead-letter-queue-url'] as const) {
    const raw = values[name];
    if (raw !== undefined) urlOption(name, raw);
  }
  checkWebhookOptions(values['webhook-url'], values['webhook-secret']);
}

export async function runPollCommand(argv: string[], command: 'poll' | 'resync'): Promise<number> {
  if (command === 'poll' && argv.includes('--all'))
    return (await import('../lib/poll-all.ts')).runPollAll(argv);
  const values = parseCommandLine(command, argv, OPTIONS, { usage: briefUsage(command) });
  if (typeof values === 'number') return values;
  if (values.help) return showHelp(help(command));
  let settings: PollSettings;
  try {
    settings = pollSettings(values);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    return usageError(command, error.message, { usage: briefUsage(command) });
  }
  const session = await openSession(values, command, settings);
  const stop = stopOnSignals();
  try {
    process.stderr.write(`nutcache-cdc ${command}: ${session.description}\n`);
    if (values['break-lease']) {
      const outcome = await breakLeaseOf(session.leases, session.options.organizationGuid);
      process.stderr.write(`${outcome.text}\n`);
      if (!outcome.broken) return EXIT.busy;
    }
    const watch = values.watch === true && command !== 'resync';
    const exitCode = await pollRepeatedly(session, settings, watch, stop.signal);
    return stop.exitCode ?? exitCode;
  } finally {
    stop.dispose();
    await session.close();
  }
}

/** What a poll of this command line needs: its credentials, client, store, publishing and options. */
interface PollSession {
  readonly secret: NutcacheSecret;
  readonly client: NutcacheClient;
  readonly quota: QuotaStore;
  readonly leases: LeaseInspection;
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
  // The summary line (and its hint) tells the outcome; the engine's own lines are --verbose details.
  const log = createCliLog(values.verbose ? 'debug' : 'off');
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
  const crm = values.rules ? openCrmDelivery(values.rules, { inner: publishing.bus, log }) : undefined;
  const opened = await openStore({ stateDir, ...(values.table ? { table: values.table } : {}) });
  return {
    secret,
    client,
    quota: opened.quota,
    leases: opened.store,
    deps: {
      store: opened.store,
      bus: crm?.bus ?? publishing.bus,
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
    description: `organization ${secret.organizationGuid} → ${publishing.description}${crm ? ` and ${crm.description}` : ''}; snapshots in ${opened.description}`,
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
    // Names this process, so that a poll finding its lease after it was killed takes over at once.
    owner: processLeaseOwner(),
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
    const result = await pollWithCredentials(session.deps, { ...session.options, stopSignal: signal });
    const baseUrl = session.secret.baseUrl ?? DEFAULT_BASE_URL;
    const summary = summarize(result, baseUrl);
    const line =
      result.outcome === 'busy' ? await busyLine(session.leases, result.organizationGuid, summary) : summary;
    // Under --watch each summary starts with the time it was written (a line per poll, for hours).
    const stamp = watch ? `${new Date(systemClock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z')} ` : '';
    process.stderr.write(`${stamp}${line}\n`);
    if (settings.json) process.stdout.write(`${resultJson(result, diagnose(result, { baseUrl }))}\n`);
    if (signal.aborted) process.stderr.write('stopped on request: the next poll carries on from here\n');
    const exitCode = exitCodeOf(result, baseUrl);
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
