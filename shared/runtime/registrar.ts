/**
 * The registrar: at every deploy, registers the organizations of `nutcache-cdc.config.json` (read from the
 * stack's S3 asset, not from the template) in the registry and ensures their schedules, so the template and
 * every function environment stay the same size for 1 and 2,000 organizations.
 *
 * - writes the deployment record (what the CLI in AWS mode reads);
 * - adds a config organization that is not registered (`managedBy: 'config'`), updates one it registered
 *   before (label, interval, API-key group, initial events, credentials; its state is kept: a paused
 *   organization stays paused), and leaves an organization `orgs add` registered (`managedBy: 'cli'`) alone;
 * - removes the config organizations dropped from the file, and their schedules;
 * - ensures every config organization's schedule (ENABLED when active, DISABLED when paused).
 * An organization keeps its GUID, so its snapshots (keyed by GUID) carry over: registering an organization
 * a previous version polled adds no Snapshot event.
 */
import type { SchedulerClient } from '@aws-sdk/client-scheduler';
import { z } from 'zod';
import type { Log } from '../ports.ts';
import type { DeploymentRecord } from '../registry/deployment.ts';
import type { DynamoOrganizationRegistry } from '../registry/dynamodb.ts';
import { organizationGuidSchema, type RegisteredOrganization } from '../registry/model.ts';
import { deleteSchedule, ensureSchedule } from '../registry/schedules.ts';

/** The organizations file the stack bundles next to the registrar's handler (infra/stacks/registrar.ts). */
export const ORGANIZATIONS_FILE = 'organizations.json';

/** One organization of the configuration, as the stack writes it into the registrar's asset. */
export const configOrganizationSchema = z.object({
  organizationGuid: organizationGuidSchema,
  label: z.string().min(1).optional(),
  everyMinutes: z.number().int().min(1),
  apiKeyGroup: z.string().min(1),
  initialEvents: z.enum(['snapshot', 'none']).optional(),
  /**
   * The secret: its ARN (imported by ARN), its name in the deployment's account and region, or `stack`: the
   * stack created it (the previous version's secret, kept), its ARN is in the custom resource's properties.
   */
  secret: z.union([
    z.object({ arn: z.string().startsWith('arn:') }),
    z.object({ name: z.string().min(1) }),
    z.object({ stack: z.literal(true) }),
  ]),
});
export type ConfigOrganization = z.infer<typeof configOrganizationSchema>;

export const registrarAssetSchema = z.object({ organizations: z.array(configOrganizationSchema) });

export interface RegistrarDeps {
  readonly registry: Pick<DynamoOrganizationRegistry, 'add' | 'update' | 'remove' | 'list' | 'putDeployment'>;
  readonly scheduler: SchedulerClient;
  readonly log: Log;
  readonly now: () => number;
}

export interface RegistrarOutcome {
  readonly added: number;
  readonly updated: number;
  readonly removed: number;
  /** Registered with `orgs add`: listed in the file too, left as they are. */
  readonly leftToCli: number;
}

/** The ARNs of the secrets the stack created (`secret: {stack: true}`), by organization GUID. */
export type StackSecrets = Readonly<Record<string, string>>;

export async function register(
  deps: RegistrarDeps,
  deployment: DeploymentRecord,
  organizations: readonly ConfigOrganization[],
  stackSecrets: StackSecrets = {},
): Promise<RegistrarOutcome> {
  await deps.registry.putDeployment(deployment);
  // One listing of the registry serves every upsert and the removals (no read per organization).
  const existing = new Map<string, RegisteredOrganization>();
  for await (const org of deps.registry.list()) existing.set(org.organizationGuid, org);
  const counts = { added: 0, updated: 0, removed: 0, leftToCli: 0 };
  for (const org of organizations) {
    const secretArn = secretArnOf(org, deployment, stackSecrets);
    const registered = await upsert(deps, org, secretArn, existing.get(org.organizationGuid));
    if (registered === 'cli') {
      counts.leftToCli++;
      continue;
    }
    counts[registered.outcome]++;
    await ensureSchedule(deps.scheduler, registered.organization, deployment);
  }
  const listed = new Set(organizations.map((o) => o.organizationGuid));
  counts.removed = await removeDropped(deps, deployment, [...existing.values()], listed);
  deps.log.info('config organizations registered', counts);
  return counts;
}

/**
 * The secret's ARN; a secret named in the configuration gets a partial ARN (no suffix, which
 * GetSecretValue accepts) in the deployment's partition, account and region (those of its poll queue); a
 * secret the stack created, the ARN CloudFormation passed.
 */
export function secretArnOf(
  org: ConfigOrganization,
  deployment: DeploymentRecord,
  stackSecrets: StackSecrets = {},
): string {
  if ('arn' in org.secret) return org.secret.arn;
  if ('stack' in org.secret) {
    const arn = stackSecrets[org.organizationGuid];
    if (!arn) throw new Error(`no ARN passed for the stack's secret of ${org.organizationGuid}`);
    return arn;
  }
  const [, partition, , region, account] = deployment.pollQueueArn.split(':');
  return `arn:${partition}:secretsmanager:${region}:${account}:secret:${org.secret.name}`;
}

async function upsert(
  deps: RegistrarDeps,
  org: ConfigOrganization,
  secretArn: string,
  existing: RegisteredOrganization | undefined,
): Promise<'cli' | { outcome: 'added' | 'updated'; organization: RegisteredOrganization }> {
  const fields = {
    ...(org.label ? { label: org.label } : {}),
    everyMinutes: org.everyMinutes,
    apiKeyGroup: org.apiKeyGroup,
    ...(org.initialEvents ? { initialEvents: org.initialEvents } : {}),
    credentials: { kind: 'secretsManager' as const, secretArn },
  };
  if (existing?.managedBy === 'cli') return 'cli';
  if (existing) {
    return { outcome: 'updated', organization: await deps.registry.update(org.organizationGuid, fields) };
  }
  const at = new Date(deps.now()).toISOString();
  const organization: RegisteredOrganization = {
    organizationGuid: org.organizationGuid,
    ...fields,
    state: 'active',
    createdAt: at,
    updatedAt: at,
    managedBy: 'config',
  };
  await deps.registry.add(organization);
  return { outcome: 'added', organization };
}

/** Config organizations no longer in the file: their schedules, then their registry items. */
async function removeDropped(
  deps: RegistrarDeps,
  deployment: DeploymentRecord,
  registered: readonly RegisteredOrganization[],
  listed: ReadonlySet<string>,
): Promise<number> {
  const dropped = registered
    .filter((org) => org.managedBy === 'config' && !listed.has(org.organizationGuid))
    .map((org) => org.organizationGuid);
  for (const guid of dropped) {
    await deleteSchedule(deps.scheduler, guid, deployment);
    await deps.registry.remove(guid);
  }
  return dropped.length;
}
