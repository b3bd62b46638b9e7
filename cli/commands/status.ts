/**
 * `nutcache-cdc status`: what the store knows of an organization — its state (last poll number, initial
 * load done, last success, resync pending), its lease (a running or interrupted poll), today's Nutcache
 * requests of the API key and its most recent poll runs, from the embedded DynamoDB or a table. Reads
 * only (also while a poll runs on the same --state-dir); never calls Nutcache.
 */
import type { OrgState, RunRecord } from '../../shared/ports.ts';
import { apiKeyId, DEFAULT_DAILY_BUDGET, type QuotaStore, utcDay } from '../../shared/quota/budget.ts';
import { type LeaseView, leaseHolder } from '../../shared/store/lease-rules.ts';
import { numberOption, parseCommandLine, showHelp, usageError } from '../lib/args.ts';
import { describeLease, type LeaseDescription } from '../lib/lease-text.ts';
import { openStore } from '../lib/runtime.ts';

const HELP = `Usage: nutcache-cdc status [options]

Shows an organization's state, its lease (who polls it now, or a poll that was interrupted), today's
Nutcache requests of the API key (NUTCACHE_API_KEY) and its most recent polls (outcome, counts, Nutcache
requests, duration). Works while a poll runs on the same --state-dir.

Options:
  --organization GUID   the organization (default NUTCACHE_ORGANIZATION_GUID)
  --table NAME          a DynamoDB table (standard AWS SDK configuration)
  --state-dir DIR       embedded DynamoDB directory when no --table (default ./.nutcache-cdc)
  --runs N              how many recent polls to show (default 10)
  --daily-budget N      the API key's daily budget to compare with (default ${DEFAULT_DAILY_BUDGET})
  --json                print JSON instead of text
  -h, --help            this help
`;

function describeRun(run: RunRecord): string {
  const c = run.counts;
  const changes = ['created', 'updated', 'deleted', 'snapshot']
    .filter((k) => (c[k] ?? 0) > 0)
    .map((k) => `${c[k]} ${k}`)
    .concat(c.recoveredFromJournal ? [`${c.recoveredFromJournal} re-published from the journal`] : [])
    .concat(c.deletionsHeld ? [`${c.deletionsHeld} deletions held`] : [])
    .join(', ');
  const error = run.error ? ` — ${run.error}` : '';
  return `${run.startedAt}  ${run.outcome.padEnd(8)} ${run.mode.padEnd(6)} ${changes || 'no change'}; ${run.nutcacheRequests} requests, ${run.durationMs} ms${error}`;
}

const OPTIONS = {
  organization: { type: 'string' },
  table: { type: 'string' },
  'state-dir': { type: 'string' },
  runs: { type: 'string' },
  'daily-budget': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function run(argv: string[]): Promise<number> {
  const values = parseCommandLine('status', argv, OPTIONS, { usage: HELP });
  if (typeof values === 'number') return values;
  if (values.help) return showHelp(HELP);
  const organization = values.organization ?? process.env.NUTCACHE_ORGANIZATION_GUID;
  if (!organization) {
    return usageError('status', 'name the organization with --organization or NUTCACHE_ORGANIZATION_GUID', {
      usage: HELP,
    });
  }
  let runs: number;
  try {
    runs = numberOption('runs', values.runs, 10, { min: 1 });
  } catch (error) {
    return usageError('status', (error as Error).message, { usage: HELP });
  }
  let dailyBudget: number;
  try {
    dailyBudget = numberOption('daily-budget', values['daily-budget'], DEFAULT_DAILY_BUDGET, { min: 1 });
  } catch (error) {
    return usageError('status', (error as Error).message, { usage: HELP });
  }
  const opened = await openStore({
    stateDir: values['state-dir'] ?? '.nutcache-cdc',
    ...(values.table ? { table: values.table } : {}),
  });
  try {
    const state = await opened.store.getOrgState(organization);
    const recent = await opened.store.listRunRecords(organization, runs);
    const lease = await opened.store.readLease(organization);
    const budget = await budgetUse(opened.quota, dailyBudget);
    if (values.json) {
      process.stdout.write(
        `${JSON.stringify({ organizationGuid: organization, state: state ?? null, lease: leaseJson(lease), budget, runs: recent }, null, 2)}\n`,
      );
    } else if (!state) {
      process.stdout.write(`organization ${organization}: never polled (in ${opened.description})\n`);
    } else {
      const view = { organization, where: opened.description, state, recent, budget };
      process.stdout.write(describeState(view, describeLease(lease, Date.now())));
    }
    return 0;
  } finally {
    await opened.close();
  }
}

interface BudgetUse {
  readonly usedToday: number;
  readonly dailyBudget: number;
}

/** Today's Nutcache requests of the API key in NUTCACHE_API_KEY; undefined without one. */
async function budgetUse(quota: QuotaStore, dailyBudget: number): Promise<BudgetUse | undefined> {
  const apiKey = process.env.NUTCACHE_API_KEY;
  if (!apiKey) return undefined;
  return { usedToday: await quota.used(apiKeyId(apiKey), utcDay(Date.now())), dailyBudget };
}

function leaseJson(lease: LeaseView | undefined) {
  if (!lease) return null;
  const { alive } = leaseHolder(lease.holder);
  const interrupted = describeLease(lease, Date.now()).interrupted;
  return {
    ...lease,
    expiresAt: new Date(lease.expiresAt).toISOString(),
    holderAlive: alive ?? null,
    interrupted,
  };
}

interface StatusView {
  readonly organization: string;
  readonly where: string;
  readonly state: OrgState;
  readonly recent: readonly RunRecord[];
  readonly budget: BudgetUse | undefined;
}

function describeState(view: StatusView, lease: LeaseDescription): string {
  const { organization, where, state, recent, budget } = view;
  return [
    `organization ${organization} (in ${where})`,
    `  lease: ${lease.text}`,
    `  Nutcache requests today: ${budget ? `${budget.usedToday} of ${budget.dailyBudget} (this API key)` : 'unknown (set NUTCACHE_API_KEY to see the API key’s use)'}`,
    `  last poll number: ${state.pollNumber}`,
    `  initial load done: ${state.initialized ? 'yes' : 'no'}`,
    `  last successful poll: ${state.lastSuccessAt ?? 'never'}`,
    `  pages of the last complete listing: ${state.lastPages ?? 'unknown'}`,
    `  resync pending: ${state.resyncRequested ? 'yes' : 'no'}`,
    `  scheduled polls deferred until: ${state.notBefore ? new Date(state.notBefore).toISOString() : 'no (polling at the configured rate)'}`,
    `recent polls (newest first):`,
    ...(lease.interrupted
      ? ['  (latest)                  interrupted: it never finished (killed or crashed)']
      : []),
    ...recent.map((r) => `  ${describeRun(r)}`),
    '',
  ].join('\n');
}
