/**
 * What `nutcache-cdc orgs` and `poll --all` work on: the registry and the snapshot store, in local mode
 * (the embedded DynamoDB under `--state-dir`) or in AWS mode (`--table <name>` with the standard AWS SDK
 * configuration, plus the deployment record the deploy wrote in that table, which names the schedule
 * group, the poll queue, the secrets' prefix and tag).
 */
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { QuotaStore } from '../../shared/quota/budget.ts';
import type { DeploymentRecord } from '../../shared/registry/deployment.ts';
import type { DynamoOrganizationRegistry } from '../../shared/registry/dynamodb.ts';
import type { DynamoSnapshotStore } from '../../shared/store/dynamodb.ts';
import { openStore } from './runtime.ts';

export const DEFAULT_STATE_DIR = '.nutcache-cdc';

export interface AwsSide {
  readonly deployment: DeploymentRecord;
  readonly secrets: SecretsManagerClient;
  readonly scheduler: SchedulerClient;
}

export interface OrgsContext {
  readonly mode: 'local' | 'aws';
  readonly stateDir: string;
  readonly registry: DynamoOrganizationRegistry;
  readonly store: DynamoSnapshotStore;
  readonly quota: QuotaStore;
  /** AWS mode only. */
  readonly aws?: AwsSide;
  readonly description: string;
  close(): Promise<void>;
}

export class NotDeployedError extends Error {}

export async function openOrgsContext(options: { stateDir?: string; table?: string }): Promise<OrgsContext> {
  const stateDir = options.stateDir ?? DEFAULT_STATE_DIR;
  const opened = await openStore({ stateDir, ...(options.table ? { table: options.table } : {}) });
  const base = {
    stateDir,
    registry: opened.registry,
    store: opened.store,
    quota: opened.quota,
    description: opened.description,
  };
  if (!options.table) return { ...base, mode: 'local', close: () => opened.close() };
  try {
    const deployment = await opened.registry.getDeployment();
    if (!deployment) {
      throw new NotDeployedError(
        `table ${options.table} has no deployment record: deploy nutcache-cdc to it first (the deploy writes the record), or check --table and AWS_REGION`,
      );
    }
    const aws = { deployment, secrets: new SecretsManagerClient({}), scheduler: new SchedulerClient({}) };
    return {
      ...base,
      mode: 'aws',
      aws,
      close: async () => {
        aws.secrets.destroy();
        aws.scheduler.destroy();
        await opened.close();
      },
    };
  } catch (error) {
    await opened.close();
    throw error;
  }
}
