/**
 * The registrar custom resource (infra/stacks/registrar.ts): CloudFormation invokes it on every deploy that
 * changes the configuration's organizations (the resource's `OrganizationsSha256` changes with them). On
 * Create and Update it reads the organizations from `organizations.json`, which the stack bundles into this
 * function's code asset (on S3, like every Lambda code asset: not in the template nor in an environment
 * variable), and registers them (shared/runtime/registrar.ts); on
 * Delete it does nothing (the table is retained with the registry; the schedule group, hence the schedules,
 * is deleted with the stack). It answers CloudFormation on the pre-signed response URL, also on failure, so
 * a deploy never waits for a timeout.
 */
import { readFile } from 'node:fs/promises';
import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { z } from 'zod';
import { ENV, requireEnv } from '../shared/config/env.ts';
import { deploymentRecordSchema } from '../shared/registry/deployment.ts';
import { DynamoOrganizationRegistry } from '../shared/registry/dynamodb.ts';
import { ORGANIZATIONS_FILE, register, registrarAssetSchema } from '../shared/runtime/registrar.ts';
import { createDocumentClient } from '../shared/store/dynamodb.ts';

const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME || 'nutcache-cdc-registrar' });
const scheduler = new SchedulerClient({});
const registry = new DynamoOrganizationRegistry({
  client: createDocumentClient(new DynamoDBClient({})),
  tableName: requireEnv(ENV.tableName),
});

const eventSchema = z.object({
  RequestType: z.enum(['Create', 'Update', 'Delete']),
  ResponseURL: z.url(),
  StackId: z.string(),
  RequestId: z.string(),
  LogicalResourceId: z.string(),
  PhysicalResourceId: z.string().optional(),
  ResourceProperties: z.object({
    OrganizationsSha256: z.string().min(1),
    Deployment: deploymentRecordSchema,
    /** The ARNs of the secrets the stack created (the previous version's, kept), by organization GUID. */
    StackSecrets: z.record(z.string(), z.string().startsWith('arn:')).optional(),
  }),
});
type RegistrarEvent = z.infer<typeof eventSchema>;

const PHYSICAL_ID = 'nutcache-cdc-registrar';

async function readOrganizations() {
  const text = await readFile(new URL(`./${ORGANIZATIONS_FILE}`, import.meta.url), 'utf8');
  return registrarAssetSchema.parse(JSON.parse(text)).organizations;
}

async function run(event: RegistrarEvent): Promise<Record<string, number>> {
  if (event.RequestType === 'Delete') return {};
  const props = event.ResourceProperties;
  const organizations = await readOrganizations();
  const outcome = await register(
    { registry, scheduler, log: logger, now: Date.now },
    props.Deployment,
    organizations,
    props.StackSecrets ?? {},
  );
  return { ...outcome };
}

/** CloudFormation's answer: the status, a one-line reason on failure, and the counts as attributes. */
async function respond(event: RegistrarEvent, status: 'SUCCESS' | 'FAILED', reason: string, data = {}) {
  const body = JSON.stringify({
    Status: status,
    Reason: reason.slice(0, 1000),
    PhysicalResourceId: event.PhysicalResourceId ?? PHYSICAL_ID,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
    Data: data,
  });
  const answer = await fetch(event.ResponseURL, { method: 'PUT', body, headers: { 'content-type': '' } });
  if (!answer.ok) throw new Error(`CloudFormation's response URL answered ${answer.status}`);
}

export async function handler(raw: unknown): Promise<void> {
  const event = eventSchema.parse(raw);
  try {
    const data = await run(event);
    await respond(event, 'SUCCESS', 'registered', data);
  } catch (error) {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    logger.error('registration failed', { error: message });
    await respond(event, 'FAILED', `registration failed: ${message}`);
  }
}
