/**
 * `SyncNowEndpoint`: the inbound "sync now" webhook (functions/sync-now.ts) on a Lambda function URL. The
 * URL's auth type is NONE on purpose: callers are CRMs and scripts that sign with Standard Webhooks (the
 * secret in Secrets Manager), and the function rejects every request without a valid, fresh, unreplayed
 * signature before doing anything else. An optional reserved concurrency caps what an unauthenticated flood
 * can cost (off by default: a reservation fails the first deploy on a small account).
 */
import { Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../../shared/config/env.ts';
import { REGISTRY_KEYS } from '../../shared/registry/dynamodb.ts';
import { inboundWebhookPk } from '../../shared/webhooks/replay-guard.ts';
import { functionEntry } from '../paths.ts';
import { NutcacheFunction } from './nutcache-function.ts';
import { acknowledgeFunctionFindings } from './webhook-subscription.ts';

export const SYNC_NOW_ENTRY = functionEntry('sync-now.ts');
/** What DynamoDbReplayGuard calls: PutCommand (claim) and DeleteCommand (release). */
export const REPLAY_GUARD_ACTIONS = ['dynamodb:PutItem', 'dynamodb:DeleteItem'] as const;

export interface SyncNowEndpointProps {
  /** The project's table (replayed webhook ids: `WEBHOOK#<id>` / `INBOUND`). */
  readonly table: dynamodb.ITable;
  /** The poll queue (FIFO): a sync-now request is a poll message in the organization's API-key group. */
  readonly pollQueue: sqs.IQueue;
  /** The deployment's environment: the function's service name is `sync-now-<environment>`. */
  readonly environmentName: string;
  /** `{"secrets": ["whsec_…"]}`, a bare `whsec_…`, or a generated 32-character alphanumeric value. */
  readonly secret: secretsmanager.ISecret;
  /** Reserved concurrency of the function. @default - none (the account's unreserved pool) */
  readonly reservedConcurrency?: number;
  /** @default functions/sync-now.ts */
  readonly entry?: string;
}

export class SyncNowEndpoint extends Construct {
  readonly function: NutcacheFunction;
  readonly functionUrl: lambda.FunctionUrl;

  constructor(scope: Construct, id: string, props: SyncNowEndpointProps) {
    super(scope, id);
    const fn = new NutcacheFunction(this, 'Handler', {
      entry: props.entry ?? SYNC_NOW_ENTRY,
      description:
        'Inbound "sync now" webhook: verifies the Standard Webhooks signature, starts a poll/resync',
      serviceName: `sync-now-${props.environmentName}`,
      timeout: Duration.seconds(10),
      memorySize: 256,
      reservedConcurrentExecutions: props.reservedConcurrency,
    });
    // The replay guard's calls only (shared/webhooks/replay-guard.ts): a conditional PutItem to claim a
    // webhook-id and a DeleteItem to release it, on `WEBHOOK#…` items. The URL is public: no access to the
    // rest of the table.
    fn.useTableItems(props.table, [...REPLAY_GUARD_ACTIONS], `${inboundWebhookPk('')}*`)
      .useSecret(ENV.inboundWebhookSecretArn, props.secret)
      .withSetting(ENV.pollQueueUrl, props.pollQueue.queueUrl);
    // The registry lookup (shared/registry/dynamodb.ts `get`): GetItem on the organizations' partition only.
    fn.allowPartition(props.table, ['dynamodb:GetItem'], REGISTRY_KEYS.organizationsPk);
    fn.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [props.pollQueue.queueArn] }),
    );
    acknowledgeFunctionFindings(fn);
    this.function = fn;
    // The stack outputs the URL (`SyncNowUrl`).
    this.functionUrl = fn.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });
  }
}
