/**
 * `nutcache-cdc orgs add|list|set|pause|resume|remove`: the registry of organizations, at run time, no
 * redeploy. Local mode (`--state-dir`): the registry in the embedded store, credentials in 0600 files.
 * AWS mode (`--table`): the registry in the deployment's table, credentials in Secrets Manager, one
 * Scheduler schedule per organization. See docs/organizations.md.
 */
import { apiKeyId } from '../../shared/quota/budget.ts';
import {
  DEFAULT_EVERY_MINUTES,
  defaultApiKeyGroup,
  isGuid,
  MAX_EVERY_MINUTES,
  normalizeGuid,
  type OrganizationPatch,
  type RegisteredOrganization,
} from '../../shared/registry/model.ts';
import { listAll } from '../../shared/registry/port.ts';
import { deleteSchedule, ensureSchedule } from '../../shared/registry/schedules.ts';
import { type OptionValues, parseCommandLine, showHelp, usageError } from '../lib/args.ts';
import { type AddedCredentials, addCredentials, removeCreatedCredentials } from '../lib/orgs-add.ts';
import { type OrgsContext, openOrgsContext } from '../lib/orgs-context.ts';
import { formatRows, type OrganizationRow, organizationRow, staleSummary } from '../lib/orgs-list.ts';

const LIST_CONCURRENCY = 16;

const HELP = `Usage:
  nutcache-cdc orgs add <GUID> [--label L] [--every MINUTES] [--api-key-group K] [--base-url U] [--secret-id ARN]
  nutcache-cdc orgs list [--json]
  nutcache-cdc orgs set <GUID> [--every M] [--label L] [--api-key-group K]
  nutcache-cdc orgs pause|resume|remove <GUID>

Registers the Nutcache organizations to poll, at run time. 'add' takes the credentials from
NUTCACHE_API_KEY, NUTCACHE_USERNAME and NUTCACHE_PASSWORD (never from an argument), or references an
existing Secrets Manager secret with --secret-id.

Where:
  --state-dir DIR     local mode (default ./.nutcache-cdc): registry in the embedded DynamoDB,
                      credentials in DIR/credentials/<GUID>.json (mode 0600)
  --table NAME        AWS mode: the deployment's DynamoDB table (standard AWS SDK configuration:
                      AWS_REGION, AWS_PROFILE…); secrets and schedules follow its deployment record
Options:
  --label L           a name for people
  --every MINUTES     poll interval, 1-${MAX_EVERY_MINUTES} (default ${DEFAULT_EVERY_MINUTES})
  --api-key-group K   organizations of one group share one rate limit and are polled one at a time
                      (default: derived from the API key, so organizations sharing a key share a group)
  --base-url U        Nutcache API base
  --secret-id ARN     use this existing secret (it is not deleted by 'remove')
  --json              'list' prints JSON
  -h, --help          this help

Exit status: 0 done, 1 failed (not registered, already registered, AWS error), 64 usage.
`;

const OPTIONS = {
  'state-dir': { type: 'string' },
  table: { type: 'string' },
  label: { type: 'string' },
  every: { type: 'string' },
  'api-key-group': { type: 'string' },
  'base-url': { type: 'string' },
  'secret-id': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = OptionValues<typeof OPTIONS>;
type Sub = 'add' | 'list' | 'set' | 'pause' | 'resume' | 'remove';
const SUBS: readonly Sub[] = ['add', 'list', 'set', 'pause', 'resume', 'remove'];

class UsageProblem extends Error {}

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h')
    return sub ? showHelp(HELP) : usageError('orgs', 'which subcommand?', { usage: HELP });
  if (!SUBS.includes(sub as Sub)) return usageError('orgs', `unknown subcommand '${sub}'`, { usage: HELP });
  const takesGuid = sub !== 'list';
  const guidArg = takesGuid && rest[0] && !rest[0].startsWith('-') ? rest[0] : undefined;
  const values = parseCommandLine(`orgs ${sub}`, guidArg ? rest.slice(1) : rest, OPTIONS);
  if (typeof values === 'number') return values;
  if (values.help) return showHelp(HELP);
  let guid: string | undefined;
  try {
    guid = checkArguments(sub as Sub, guidArg, values);
  } catch (error) {
    return usageError(`orgs ${sub}`, (error as Error).message);
  }
  const context = await openOrgsContext({
    ...(values['state-dir'] ? { stateDir: values['state-dir'] } : {}),
    ...(values.table ? { table: values.table } : {}),
  });
  try {
    return await dispatch(sub as Sub, guid, values, context);
  } catch (error) {
    process.stderr.write(`nutcache-cdc orgs ${sub}: ${(error as Error).message.split('\n')[0]}\n`);
    return 1;
  } finally {
    await context.close();
  }
}

/** Checks the GUID and options before anything is contacted; returns the canonical GUID. */
function checkArguments(sub: Sub, guidArg: string | undefined, values: Values): string | undefined {
  if (values['state-dir'] && values.table) throw new UsageProblem('give --state-dir or --table, not both');
  if (values.every !== undefined) everyMinutes(values.every);
  if (sub === 'list') return undefined;
  if (!guidArg) throw new UsageProblem('the organization GUID is missing');
  if (!isGuid(guidArg)) {
    throw new UsageProblem(`'${guidArg}' is not an organization GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)`);
  }
  if (sub === 'set' && values.every === undefined && values.label === undefined && !values['api-key-group']) {
    throw new UsageProblem('set what? give --every, --label or --api-key-group');
  }
  if (values['api-key-group'] !== undefined && !/^[A-Za-z0-9_-]{1,128}$/.test(values['api-key-group'])) {
    throw new UsageProblem('--api-key-group must be 1-128 letters, digits, - or _');
  }
  return normalizeGuid(guidArg);
}

function everyMinutes(raw: string): number {
  const n = Number(raw);
  if (!/^[0-9]+$/.test(raw) || n < 1 || n > MAX_EVERY_MINUTES) {
    throw new UsageProblem(
      `--every must be a whole number of minutes from 1 to ${MAX_EVERY_MINUTES}, got '${raw}'`,
    );
  }
  return n;
}

async function dispatch(
  sub: Sub,
  guid: string | undefined,
  values: Values,
  context: OrgsContext,
): Promise<number> {
  if (sub === 'list' || guid === undefined) return list(context, values.json === true);
  if (sub === 'add') return add(context, guid, values);
  const org = await context.registry.get(guid);
  if (!org) throw new Error(`organization ${guid} is not registered (see 'nutcache-cdc orgs list')`);
  if (org.managedBy === 'config' && (sub === 'set' || sub === 'remove')) {
    throw new Error(
      `organization ${guid} is listed in nutcache-cdc.config.json: change it there and deploy (pause and resume work here)`,
    );
  }
  if (sub === 'remove') return remove(context, org);
  const patch: OrganizationPatch =
    sub === 'set'
      ? {
          ...(values.every !== undefined ? { everyMinutes: everyMinutes(values.every) } : {}),
          ...(values.label !== undefined ? { label: values.label } : {}),
          ...(values['api-key-group'] ? { apiKeyGroup: values['api-key-group'] } : {}),
        }
      : { state: sub === 'pause' ? 'paused' : 'active' };
  const updated = await context.registry.update(guid, patch);
  if (context.aws) await ensureSchedule(context.aws.scheduler, updated, context.aws.deployment);
  process.stderr.write(`${describe(updated, context)}\n`);
  return 0;
}

function describe(org: RegisteredOrganization, context: OrgsContext): string {
  const schedule = context.aws
    ? `, schedule org-${org.organizationGuid} ${org.state === 'active' ? 'ENABLED' : 'DISABLED'}`
    : '';
  return `organization ${org.organizationGuid}${org.label ? ` (${org.label})` : ''}: ${org.state}, every ${org.everyMinutes} min, API-key group ${org.apiKeyGroup}${schedule}`;
}

async function add(context: OrgsContext, guid: string, values: Values): Promise<number> {
  if (await context.registry.get(guid)) throw new Error(`organization ${guid} is already registered`);
  const added: AddedCredentials = await addCredentials(context, guid, values);
  const now = new Date().toISOString();
  const org: RegisteredOrganization = {
    organizationGuid: guid,
    ...(values.label ? { label: values.label } : {}),
    credentials: added.ref,
    everyMinutes: values.every !== undefined ? everyMinutes(values.every) : DEFAULT_EVERY_MINUTES,
    apiKeyGroup: values['api-key-group'] ?? defaultApiKeyGroup(added.apiKey),
    apiKeyId: apiKeyId(added.apiKey),
    ...(values['base-url'] ? { baseUrl: values['base-url'] } : {}),
    state: 'active',
    createdAt: now,
    updatedAt: now,
    managedBy: 'cli',
    ...(added.created ? { createdSecret: true } : {}),
  };
  let registered = false;
  try {
    await context.registry.add(org);
    registered = true;
    if (context.aws) await ensureSchedule(context.aws.scheduler, org, context.aws.deployment);
  } catch (error) {
    // Leave nothing half-added: the same command can simply be run again.
    if (registered) await context.registry.remove(guid).catch(() => undefined);
    await removeCreatedCredentials(context, org);
    throw error;
  }
  process.stderr.write(`registered ${describe(org, context)}\n`);
  return 0;
}

async function remove(context: OrgsContext, org: RegisteredOrganization): Promise<number> {
  // Stop polling first, then forget the organization, then its credentials; snapshots stay until TTL.
  if (context.aws) await deleteSchedule(context.aws.scheduler, org.organizationGuid, context.aws.deployment);
  await context.registry.remove(org.organizationGuid);
  await removeCreatedCredentials(context, org);
  process.stderr.write(
    `removed organization ${org.organizationGuid}${org.createdSecret ? ' and the secret orgs add created' : ''}; its snapshots stay in the table\n`,
  );
  return 0;
}

async function list(context: OrgsContext, json: boolean): Promise<number> {
  const now = Date.now();
  const orgs = await listAll(context.registry);
  const rows: OrganizationRow[] = [];
  // A few organizations at a time: each row is 2 or 3 small reads.
  for (let i = 0; i < orgs.length; i += LIST_CONCURRENCY) {
    const chunk = orgs.slice(i, i + LIST_CONCURRENCY);
    rows.push(...(await Promise.all(chunk.map((org) => organizationRow(context, org, now)))));
  }
  if (json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  else process.stdout.write(rows.length > 0 ? `${formatRows(rows)}\n` : 'no organization registered\n');
  const stale = staleSummary(rows);
  if (stale) process.stderr.write(`${stale}\n`);
  return 0;
}
