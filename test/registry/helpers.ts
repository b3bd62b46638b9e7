/** Test helpers for the registry suites. */
import type { DeploymentRecord } from '../../shared/registry/deployment.ts';
import type { RegisteredOrganization } from '../../shared/registry/model.ts';

/** A valid, distinct organization GUID per number. */
export function guid(n: number): string {
  return `0000${String(n).padStart(4, '0')}-aaaa-bbbb-cccc-${String(n).padStart(12, '0')}`;
}

export function organization(n: number, extra: Partial<RegisteredOrganization> = {}): RegisteredOrganization {
  return {
    organizationGuid: guid(n).toUpperCase(),
    credentials: { kind: 'localFile' },
    everyMinutes: 15,
    apiKeyGroup: 'k-group-one',
    state: 'active',
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    managedBy: 'cli',
    ...extra,
  };
}

/** A deployment record as the registrar writes it (account 123456789012, eu-west-1). */
export function deploymentRecord(extra: Partial<DeploymentRecord> = {}): DeploymentRecord {
  return {
    environment: 'prod',
    region: 'eu-west-1',
    scheduleGroupName: 'nutcache-cdc-prod',
    pollQueueArn: 'arn:aws:sqs:eu-west-1:123456789012:nutcache-cdc-prod-polls.fifo',
    schedulerRoleArn: 'arn:aws:iam::123456789012:role/nutcache-cdc-prod-scheduler',
    scheduleDeadLetterQueueArn: 'arn:aws:sqs:eu-west-1:123456789012:nutcache-cdc-prod-poll-failures',
    secretNamePrefix: 'nutcache-cdc/prod/organizations/',
    secretTag: { key: 'nutcache-cdc:environment', value: 'prod' },
    eventBusName: 'nutcache-cdc-prod',
    ...extra,
  };
}
