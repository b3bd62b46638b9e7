/**
 * `nutcache-cdc poll --all`: polls every active registered organization once, in local mode (registry and
 * snapshots in the embedded store, credentials in files) or AWS mode (`--table`: the deployment's table,
 * credentials in Secrets Manager). Each organization has its own lease, credentials and events.
 * Organizations of one API-key group are polled one after the other through one shared rate limiter
 * (their daily budget is the key's, counted in the quota store); groups run concurrently, at most
 * `--concurrency` at a time. One organization's failure (bad credentials, 500s, a missing secret) is
 * reported and the others go on. Exit status: the worst outcome.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { PollResult } from '../../shared/engine/poll.ts';
import { DEFAULT_BASE_URL, NutcacheClient } from '../../shared/nutcache/client.ts';
import { SlidingWindowLimiter } from '../../shared/nutcache/rate-limiter.ts';
import {
  clientConfigFromSecret,
  type NutcacheSecret,
  type SecretReading,
} from '../../shared/nutcache/secret.ts';
import type { Log } from '../../shared/ports.ts';
import { DEFAULT_DAILY_BUDGET } from '../../shared/quota/budget.ts';
import type { RegisteredOrganization } from '../../shared/registry/model.ts';
import { OrganizationSecrets } from '../../shared/runtime/organization-secrets.ts';
import { type PollerServiceDeps, pollWithCredentials } from '../../shared/runtime/poller-service.ts';
import { systemClock } from '../../shared/util/clock.ts';
import { RecordingMetrics } from '../../shared/util/metrics.ts';
import { checked, numberOption, type OptionValues, parseCommandLine, showHelp, UsageError } from './args.ts';
import { createCliLog } from './log.ts';
import { credentialsFile, readCredentialsFile } from './org-credentials.ts';
import { type OrgsContext, openOrgsContext } from './orgs-context.ts';
import { diagnose, EXIT, exitStatus } from './outcome.ts';
import { openPublishing, type Publishing } from './runtime.ts';

const HELP = `Usage: nutcache-cdc poll --all [options]

Polls every active organization registered with 'nutcache-cdc orgs add' once. Organizations of one
API-key group are polled one at a time through one rate limiter; groups run concurrently.

  --state-dir DIR           local mode (default ./.nutcache-cdc)
  --table NAME              AWS mode: the deployment's table (standard AWS SDK configuration)
  --events-file PATH        write events as JSON lines to PATH (default: stdout; in AWS mode the
                            deployment's event bus unless --events-file or --event-bus is given)
  --event-bus NAME          publish to this EventBridge bus
  --pretty                  print events readably on stdout
  --daily-budget N          Nutcache requests a day per API key (default ${DEFAULT_DAILY_BUDGET})
  --concurrency N           API-key groups polled at the same time (default 4)
  --verbose                 log progress details on stderr
  -h, --help                this help

Prints one line per organization. Exit status: the worst outcome: 1 if any organization failed,
else 4 if deletions were held, else 3 if any poll was incomplete, else 75 if any was busy or
deferred, else 0; 64 usage.
`;

const OPTIONS = {
  all: { type: 'boolean' },
  'state-dir': { type: 'string' },
  table: { type: 'string' },
  'events-file': { type: 'string' },
  'event-bus': { type: 'string' },
  pretty: { type: 'boolean' },
  'daily-budget': { type: 'string' },
  concurrency: { type: 'string' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = OptionValues<typeof OPTIONS>;

/** Exit statuses from best to worst. */
const SEVERITY: readonly number[] = [EXIT.ok, EXIT.busy, EXIT.incomplete, EXIT.held, EXIT.failed];

export interface OrganizationOutcome {
  readonly organizationGuid: string;
  readonly exitCode: number;
  readonly line: string;
}

export async function runPollAll(argv: string[]): Promise<number> {
  const values = parseCommandLine('poll', argv, OPTIONS);
  if (typeof values === 'number') return values;
  if (values.help) return showHelp(HELP);
  const settings = checked('poll', 'Usage: nutcache-cdc poll --all [options]', () => {
    if (values['state-dir'] && values.table) throw new UsageError('give --state-dir or --table, not both');
    return {
      dailyBudget: numberOption('daily-budget', values['daily-budget'], DEFAULT_DAILY_BUDGET, { min: 1 }),
      concurrency: numberOption('concurrency', values.concurrency, 4, { min: 1 }),
    };
  });
  if (typeof settings === 'number') return settings;
  const context = await openOrgsContext({
    ...(values['state-dir'] ? { stateDir: values['state-dir'] } : {}),
    ...(values.table ? { table: values.table } : {}),
  });
  try {
    const log = createCliLog(values.verbose ? 'debug' : 'error');
    const publishing = await openPublishing(publishingOptions(values, context, log));
    const run = new PollAllRun(context, publishing, log, settings.dailyBudget);
    try {
      return report(await run.pollAll(settings.concurrency));
    } finally {
      run.close();
    }
  } finally {
    await context.close();
  }
}

function publishingOptions(
  values: Values,
  context: OrgsContext,
  log: Log,
): Parameters<typeof openPublishing>[0] {
  const eventBus =
    values['event-bus'] ?? (values['events-file'] ? undefined : context.aws?.deployment.eventBusName);
  return {
    stateDir: context.stateDir,
    log,
    ...(eventBus ? { eventBus } : {}),
    ...(values['events-file'] ? { eventsFile: values['events-file'] } : {}),
    ...(values.pretty ? { pretty: true } : {}),
  };
}

function report(outcomes: readonly OrganizationOutcome[]): number {
  for (const outcome of outcomes) process.stderr.write(`${outcome.line}\n`);
  const failed = outcomes.filter((o) => o.exitCode === EXIT.failed).length;
  const worst = outcomes.reduce<number>(
    (w, o) => (SEVERITY.indexOf(o.exitCode) > SEVERITY.indexOf(w) ? o.exitCode : w),
    EXIT.ok,
  );
  process.stderr.write(
    `poll --all: ${outcomes.length} organizations polled, ${outcomes.filter((o) => o.exitCode === 0).length} succeeded, ${failed} failed\n`,
  );
  return worst;
}

/** One organization's poll as `nutcache-cdc poll` grades it (the base URL names a host it cannot reach). */
function outcomeOf(guid: string, result: PollResult, baseUrl: string): OrganizationOutcome {
  const exitCode = exitStatus(result, diagnose(result, { baseUrl }));
  const word = exitCode === EXIT.failed ? 'failed' : result.outcome;
  const why = result.error ? ` (${result.error.split('\n')[0]})` : '';
  return {
    organizationGuid: guid,
    exitCode,
    line: `${guid} ${word}${why}: ${result.nutcacheRequests} Nutcache requests, ${result.durationMs} ms`,
  };
}

function configuredSecret(reading: SecretReading, id: string): NutcacheSecret {
  if (reading.state === 'unconfigured') throw new Error(`its credentials (${id}) are not filled in`);
  return reading.secret;
}

class PollAllRun {
  /** Secrets Manager, for organizations whose credentials are a secret (created on first use). */
  #secrets: OrganizationSecrets | undefined;
  #ownClient: SecretsManagerClient | undefined;

  constructor(
    private readonly context: OrgsContext,
    private readonly publishing: Publishing,
    private readonly log: Log,
    private readonly dailyBudget: number,
  ) {}

  close(): void {
    this.#ownClient?.destroy();
  }

  /** Every active organization once, groups concurrently (at most `concurrency`), each group in turn. */
  async pollAll(concurrency: number): Promise<OrganizationOutcome[]> {
    const groups = new Map<string, RegisteredOrganization[]>();
    for await (const org of this.context.registry.list()) {
      if (org.state !== 'active') continue;
      groups.set(org.apiKeyGroup, [...(groups.get(org.apiKeyGroup) ?? []), org]);
    }
    const queue = [...groups.values()];
    const outcomes: OrganizationOutcome[] = [];
    const worker = async () => {
      for (let group = queue.shift(); group; group = queue.shift())
        outcomes.push(...(await this.pollGroup(group)));
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
    return outcomes;
  }

  private async pollGroup(group: readonly RegisteredOrganization[]): Promise<OrganizationOutcome[]> {
    const limiter = new SlidingWindowLimiter({}, systemClock);
    const outcomes: OrganizationOutcome[] = [];
    for (const org of group) outcomes.push(await this.pollOne(org, limiter));
    return outcomes;
  }

  private async pollOne(
    org: RegisteredOrganization,
    limiter: SlidingWindowLimiter,
  ): Promise<OrganizationOutcome> {
    const guid = org.organizationGuid;
    try {
      const secrets = this.secretsFor(org);
      const id = this.credentialsId(org);
      const first = await secrets.read(id);
      if (first.state === 'unconfigured') {
        return {
          organizationGuid: guid,
          exitCode: EXIT.failed,
          line: `${guid} failed: its credentials (${id}) are not filled in`,
        };
      }
      const result = await pollWithCredentials(
        {
          ...this.sharedDeps(),
          getSecret: async (fresh) =>
            fresh ? configuredSecret(await secrets.read(id, { fresh }), id) : first.secret,
          canRefreshSecret: org.credentials.kind === 'secretsManager',
          createSource: (secret) => this.client(org, secret, limiter),
        },
        { organizationGuid: guid, initialEvents: org.initialEvents ?? 'snapshot' },
      );
      const baseUrl = org.baseUrl ?? first.secret.baseUrl ?? DEFAULT_BASE_URL;
      return outcomeOf(guid, result, baseUrl);
    } catch (error) {
      const message = (error instanceof Error ? error.message : String(error)).split('\n')[0];
      return { organizationGuid: guid, exitCode: EXIT.failed, line: `${guid} failed: ${message}` };
    }
  }

  private sharedDeps(): Omit<PollerServiceDeps, 'getSecret' | 'createSource'> {
    return {
      store: this.context.store,
      bus: this.publishing.bus,
      deadLetters: this.publishing.deadLetters,
      clock: systemClock,
      log: this.log,
      metrics: new RecordingMetrics(),
      quota: { store: this.context.quota, dailyBudget: this.dailyBudget },
    };
  }

  /** A Nutcache client of the organization, through its group's rate limiter. */
  private client(
    org: RegisteredOrganization,
    secret: NutcacheSecret,
    limiter: SlidingWindowLimiter,
  ): NutcacheClient {
    return new NutcacheClient({
      ...clientConfigFromSecret({ ...secret, ...(org.baseUrl ? { baseUrl: org.baseUrl } : {}) }),
      logger: this.log,
      clock: systemClock,
      rateLimit: limiter,
    });
  }

  private credentialsId(org: RegisteredOrganization): string {
    return org.credentials.kind === 'localFile'
      ? credentialsFile(this.context.stateDir, org.organizationGuid)
      : org.credentials.secretArn;
  }

  private secretsFor(org: RegisteredOrganization): Pick<OrganizationSecrets, 'read'> {
    if (org.credentials.kind === 'localFile') return { read: async (file) => readCredentialsFile(file) };
    if (!this.#secrets) {
      const client = this.context.aws?.secrets ?? new SecretsManagerClient({});
      if (!this.context.aws) this.#ownClient = client;
      this.#secrets = new OrganizationSecrets({ client });
    }
    return this.#secrets;
  }
}
