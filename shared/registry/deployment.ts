/**
 * The DEPLOYMENT RECORD: one item in the table, written at deploy by the registrar, from which the CLI in
 * AWS mode (`--table <name>`) learns everything else about the deployment.
 */
import { z } from 'zod';
import { parseOrThrow } from './model.ts';

export const SECRET_TAG_KEY = 'nutcache-cdc:environment';

export const deploymentRecordSchema = z.object({
  environment: z.string().min(1),
  region: z.string().min(1),
  scheduleGroupName: z.string().min(1).max(64),
  pollQueueArn: z.string().startsWith('arn:').endsWith('.fifo'),
  /** The role Scheduler assumes to send to the poll queue. */
  schedulerRoleArn: z.string().startsWith('arn:'),
  /**
   * Where Scheduler puts a poll request it could not deliver after its retries (a standard SQS queue:
   * the stack's poll-failure queue, as for the previous per-organization schedules).
   */
  scheduleDeadLetterQueueArn: z.string().startsWith('arn:'),
  /** e.g. `nutcache-cdc/<environment>/organizations/`; secrets are `<prefix><GUID>`. */
  secretNamePrefix: z.string().min(1),
  secretTag: z.object({ key: z.string().min(1), value: z.string().min(1) }),
  eventBusName: z.string().min(1),
});
export type DeploymentRecord = z.infer<typeof deploymentRecordSchema>;

export function parseDeploymentRecord(value: unknown, where: string): DeploymentRecord {
  return parseOrThrow(deploymentRecordSchema, value, where, 'a deployment record');
}

/** The secret name of an organization in a deployment: `<secretNamePrefix><GUID>`. */
export function organizationSecretName(deployment: DeploymentRecord, organizationGuid: string): string {
  return `${deployment.secretNamePrefix}${organizationGuid.toUpperCase()}`;
}

/** The default secret name prefix of an environment. */
export function defaultSecretNamePrefix(environment: string): string {
  return `nutcache-cdc/${environment}/organizations/`;
}
