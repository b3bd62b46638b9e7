/**
 * `nutcache-cdc status`: what the store knows of an organization — its state (last poll number, initial
 * load done, last success, resync pending) and its most recent poll runs, from the embedded DynamoDB or a
 * table. Reads only; never calls Nutcache.
 */
import { parseArgs } from 'node:util';
import type { RunRecord } from '../../shared/ports.ts';
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
    .join(', ');
  const error = run.error ? ` — ${run.error}` : '';
  return `${run.startedAt}  ${run.outcome.padEnd(8)} ${run.mode.padEnd(6)} ${changes || 'no change'}; ${run.nutcacheRequests} requests, ${run.durationMs} ms${error}`;
}

export async function run(argv: string[]): Promise<number> {
  let values: ReturnType<
    typeof parseArgs<{
      args: string[];
      options: {
        organization: { type: 'string' };
        table: { type: 'string' };
        'state-dir': { type: 'string' };
        runs: { type: 'string' };
        json: { type: 'boolean' };
        help: { type: 'boolean'; short: 'h' };
      };
    }>
  >['values'];
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        organization: { type: 'string' },
        table: { type: 'string' },
        'state-dir': { type: 'string' },
        runs: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    process.stderr.write(`nutcache-cdc status: ${(error as Error).message}\n`);
    return 64;
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const organization = values.organization ?? process.env.NUTCACHE_ORGANIZATION_GUID;
  if (!organization) {
    process.stderr.write(
      'nutcache-cdc status: name the organization with --organization or NUTCACHE_ORGANIZATION_GUID\n',
    );
    return 64;
  }
  const runs = values.runs === undefined ? 10 : Number(values.runs);
  if (!Number.isSafeInteger(runs) || runs < 1) {
    process.stderr.write(`nutcache-cdc status: --runs must be a whole number >= 1, got '${values.runs}'\n`);
    return 64;
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
      return 0;
    }
    if (!state) {
      process.stdout.write(`organization ${organization}: never polled (in ${opened.description})\n`);
      return 0;
    }
    process.stdout.write(
      [
        `organization ${organization} (in ${opened.description})`,
        `  last poll number: ${state.pollNumber}`,
        `  initial load done: ${state.initialized ? 'yes' : 'no'}`,
        `  last successful poll: ${state.lastSuccessAt ?? 'never'}`,
        `  pages of the last complete listing: ${state.lastPages ?? 'unknown'}`,
        `  resync pending: ${state.resyncRequested ? 'yes' : 'no'}`,
        `  scheduled polls deferred until: ${state.notBefore ? new Date(state.notBefore).toISOString() : 'no (polling at the configured rate)'}`,
        `recent polls (newest first):`,
        ...recent.map((r) => `  ${describeRun(r)}`),
        '',
      ].join('\n'),
    );
    return 0;
  } finally {
    await opened.close();
  }
}
