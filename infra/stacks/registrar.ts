/**
 * The declarative path: the organizations of `nutcache-cdc.config.json` are registered at deploy by the
 * registrar custom resource (functions/registrar.ts). They travel in `organizations.json`, bundled into the
 * registrar's code asset (S3), never in the template or an environment variable: the template and every
 * function environment are the same size for 1 and 2,000 organizations. The resource's only property that
 * depends on them is their SHA-256, so a change of organizations (and only that, or a change of the
 * deployment record) runs the registrar again.
 *
 * The registrar may only: write the registry's and the deployment record's items (dynamodb:LeadingKeys),
 * create/update/delete schedules in the stack's group, and pass the scheduler role to Scheduler.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CustomResource, Duration, Stack, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { DeploymentRecord } from '../../shared/registry/deployment.ts';
import { REGISTRY_KEYS } from '../../shared/registry/dynamodb.ts';
import { type ConfigOrganization, ORGANIZATIONS_FILE } from '../../shared/runtime/registrar.ts';
import type { NutcacheCdcConfig, OrganizationConfig } from '../config.ts';
import { NutcacheFunction } from '../constructs/nutcache-function.ts';
import { functionEntry } from '../paths.ts';
import {
  createStackSecrets,
  nagResourceName,
  SECRET_TAG_KEY,
  secretNamePrefix,
} from './organization-credentials.ts';

/** What the registrar's DynamoDBRegistry calls (add, update, remove, list, putDeployment). */
const REGISTRAR_TABLE_ACTIONS = [
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:Query',
] as const;

export interface RegistrarProps {
  readonly config: NutcacheCdcConfig;
  readonly table: dynamodb.ITable;
  readonly scheduleGroup: scheduler.ScheduleGroup;
  readonly schedulerRole: iam.Role;
  readonly pollQueue: sqs.IQueue;
  readonly pollFailureQueue: sqs.IQueue;
  readonly eventBusName: string;
  readonly projectRoot: string;
}

/**
 * The secret a configured organization reads: its imported secret, the stack's own (its ARN is a custom
 * resource property), or `<secretNamePrefix><GUID>`.
 */
function secretOf(org: OrganizationConfig, environmentName: string): ConfigOrganization['secret'] {
  if (org.secret.type === 'import' && org.secret.arn) return { arn: org.secret.arn };
  if (org.secret.type === 'import' && org.secret.name) return { name: org.secret.name };
  if (org.secret.type === 'create') return { stack: true };
  return { name: `${secretNamePrefix(environmentName)}${org.organizationGuid.toUpperCase()}` };
}

/** The organizations file: plain values only (the account and region are filled in by the registrar). */
export function configOrganizations(config: NutcacheCdcConfig): ConfigOrganization[] {
  return config.organizations.map((org) => ({
    organizationGuid: org.organizationGuid.toUpperCase(),
    ...(org.label ? { label: org.label } : {}),
    everyMinutes: org.scheduleRateMinutes,
    // A group of its own unless the configuration says which organizations share a key.
    apiKeyGroup: org.apiKeyGroup ?? `org-${org.organizationGuid.toUpperCase()}`,
    initialEvents: org.initialEvents ?? config.initialEvents,
    secret: secretOf(org, config.environmentName),
  }));
}

/** Writes the organizations file where the registrar's bundling copies it from; returns it and its hash. */
function organizationsFile(config: NutcacheCdcConfig): { path: string; sha256: string } {
  const text = JSON.stringify({ organizations: configOrganizations(config) });
  const path = join(mkdtempSync(join(tmpdir(), 'nutcache-cdc-registrar-')), ORGANIZATIONS_FILE);
  writeFileSync(path, text);
  return { path, sha256: createHash('sha256').update(text).digest('hex') };
}

/** The registrar function and the custom resource that runs it at every deploy that changes its input. */
export function createRegistrar(scope: Construct, props: RegistrarProps): CustomResource {
  const { config } = props;
  const file = organizationsFile(config);
  const fn = new NutcacheFunction(scope, 'Registrar', {
    entry: functionEntry('registrar.ts'),
    description: `Registers the configured Nutcache organizations and their schedules at deploy (${config.environmentName})`,
    serviceName: `nutcache-cdc-registrar-${config.environmentName}`,
    timeout: Duration.minutes(15),
    memorySize: 256,
    projectRoot: props.projectRoot,
    depsLockFilePath: join(props.projectRoot, 'package-lock.json'),
    extraFiles: [file.path],
  });
  grantRegistrar(fn, props);
  const policy = fn.role?.node.tryFindChild('DefaultPolicy');
  if (policy) {
    Validations.of(policy).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagResourceName(fn, scheduleArnPattern(fn, props.scheduleGroup))}]`,
      reason:
        "Organizations' schedules are created at run time (one per organization, named org-<GUID>): the registrar may manage the schedules of the stack's own group only.",
    });
  }
  fn.acknowledgeFindings({
    id: 'Serverless-LambdaDLQ',
    reason:
      'Invoked synchronously by CloudFormation (custom resource): a failure is answered to CloudFormation, which fails and rolls back the deploy; there is no asynchronous event to keep.',
  });
  const deployment: DeploymentRecord = {
    environment: config.environmentName,
    region: Stack.of(scope).region,
    scheduleGroupName: props.scheduleGroup.scheduleGroupName,
    pollQueueArn: props.pollQueue.queueArn,
    schedulerRoleArn: props.schedulerRole.roleArn,
    scheduleDeadLetterQueueArn: props.pollFailureQueue.queueArn,
    secretNamePrefix: secretNamePrefix(config.environmentName),
    secretTag: { key: SECRET_TAG_KEY, value: config.environmentName },
    eventBusName: props.eventBusName,
  };
  // Only the few organizations whose secret the stack creates (the previous version allowed about 10).
  const stackSecrets = createStackSecrets(scope, config.organizations, config.environmentName);
  const resource = new CustomResource(scope, 'ConfigOrganizations', {
    serviceToken: fn.functionArn,
    resourceType: 'Custom::NutcacheCdcOrganizations',
    properties: {
      OrganizationsSha256: file.sha256,
      Deployment: deployment,
      ...(Object.keys(stackSecrets).length > 0 ? { StackSecrets: stackSecrets } : {}),
    },
  });
  // Schedules are created once Scheduler may use the role they name.
  const schedulerPolicy = props.schedulerRole.node.tryFindChild('DefaultPolicy');
  if (schedulerPolicy) resource.node.addDependency(schedulerPolicy);
  return resource;
}

/** Every schedule of the group. */
function scheduleArnPattern(scope: Construct, group: scheduler.ScheduleGroup): string {
  return Stack.of(scope).formatArn({
    service: 'scheduler',
    resource: 'schedule',
    resourceName: `${group.scheduleGroupName}/*`,
  });
}

/** The registry items, the group's schedules, and passing the scheduler role to Scheduler: nothing else. */
function grantRegistrar(fn: NutcacheFunction, props: RegistrarProps): void {
  fn.useTableItems(props.table, REGISTRAR_TABLE_ACTIONS, REGISTRY_KEYS.organizationsPk);
  fn.allowPartition(props.table, ['dynamodb:PutItem'], REGISTRY_KEYS.deploymentPk);
  const schedules = scheduleArnPattern(fn, props.scheduleGroup);
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['scheduler:CreateSchedule', 'scheduler:UpdateSchedule', 'scheduler:DeleteSchedule'],
      resources: [schedules],
    }),
  );
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['iam:PassRole'],
      resources: [props.schedulerRole.roleArn],
      conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
    }),
  );
}
