/**
 * `nutcache-cdc status`: what the store knows of an organization — its state (last poll number, initial
 * load done, last success, resync pending) and its most recent poll runs, from the embedded DynamoDB or a
 * table. Reads only; never calls Nutcache.
 */
import type { OrgState, RunRecord } from '../../shared/ports.ts';
import { numberOption, parseCommandLine, showHelp, usageError } from '../lib/args.ts';
import { openStore } from '../lib/runtime.ts';

const HELP = `Usage: nutcache-cdc status [options]

Shows an organization's state and its most recent polls (outcome, counts, Nutcache requests, duration).

Options:
  --organization GUID   the organization (default NUTCACHE_ORGANIZATION_GUID)
  --table NAME          a DynamoDB table (standard AWS SDK configuration)
  --state-dir DIR       embedded DynamoDB directory when no --table (default ./.nutcache-cdc)
  --runs N              how many recent polls to show (default 10)
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
  const opened = await openStore({
    stateDir: values['state-dir'] ?? '.nutcache-cdc',
    ...(values.table ? { table: values.table } : {}),
  });
  try {
    const state = await opened.store.getOrgState(organization);
    const recent = await opened.store.listRunRecords(organization, runs);
    if (values.json) {
      process.stdout.write(
        `${JSON.stringify({ organizationGuid: organization, state: state ?? null, runs: recent }, null, 2)}\n`,
      );
    } else if (!state) {
      process.stdout.write(`organization ${organization}: never polled (in ${opened.description})\n`);
    } else {
      process.stdout.write(describeState(organization, opened.description, state, recent));
    }
    return 0;
  } finally {
    await opened.close();
  }
}

function describeState(organization: string, where: string, state: OrgState, recent: RunRecord[]): string {
  return [
    `organization ${organization} (in ${where})`,
    `  last poll number: ${state.pollNumber}`,
    `  initial load done: ${state.initialized ? 'yes' : 'no'}`,
    `  last successful poll: ${state.lastSuccessAt ?? 'never'}`,
    `  pages of the last complete listing: ${state.lastPages ?? 'unknown'}`,
    `  resync pending: ${state.resyncRequested ? 'yes' : 'no'}`,
    `  scheduled polls deferred until: ${state.notBefore ? new Date(state.notBefore).toISOString() : 'no (polling at the configured rate)'}`,
    `recent polls (newest first):`,
    ...recent.map((r) => `  ${describeRun(r)}`),
    '',
  ].join('\n');
}
