/**
 * Sync: the CRM sync rules of `syncRulesFile` (docs/sync-rules.md) and the inbound "sync now" webhook
 * (docs/webhooks.md) with its secret and outputs.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CfnOutput, type Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { parseRulesText, RulesConfigError, type SyncRuleSpec } from '../../shared/rules/model.ts';
import { ConfigError, type NutcacheCdcConfig } from '../config.ts';
import { addSyncRulesFromSpecs, type CustomerSyncRule } from '../constructs/customer-sync-rule.ts';
import { SyncNowEndpoint } from '../constructs/sync-now-endpoint.ts';

/** The context value that deploys "sync now" whatever the configuration says (`-c nutcache-cdc:syncNow=true`). */
export const SYNC_NOW_CONTEXT = 'nutcache-cdc:syncNow';

/** The rules of the configured rules file, their alarms notifying the alarm topic when there is one. */
export function addConfiguredSyncRules(
  stack: Stack,
  config: NutcacheCdcConfig,
  bus: events.IEventBus,
  alarmTopic: sns.ITopic | undefined,
): readonly CustomerSyncRule[] {
  if (!config.syncRulesFile) return [];
  return addSyncRulesFromSpecs(stack, {
    rules: readSyncRules(config.syncRulesFile),
    eventBus: bus,
    eventSource: config.eventSource,
    environmentName: config.environmentName,
    ...(alarmTopic ? { alarmAction: new cloudwatchActions.SnsAction(alarmTopic) } : {}),
  });
}

/** The rules of `syncRulesFile`; a file that is missing or invalid is a configuration error naming it. */
function readSyncRules(syncRulesFile: string): SyncRuleSpec[] {
  let text: string;
  try {
    text = readFileSync(resolve(syncRulesFile), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'file not found' : `cannot be read (${code ?? String(error)})`;
    throw new ConfigError('configuration', [`syncRulesFile: ${syncRulesFile}: ${reason}`]);
  }
  try {
    return parseRulesText(text, syncRulesFile);
  } catch (error) {
    if (!(error instanceof RulesConfigError)) throw error;
    const [first = error.message, ...more] = error.message.split('\n');
    const issues = more.length > 0 ? error.problems : [first];
    throw new ConfigError(
      'configuration',
      issues.map((issue) => `syncRulesFile: ${issue}`),
    );
  }
}

/** Whether "sync now" is deployed: the configuration's `syncNow`, or the context value. */
export function syncNowWanted(stack: Stack, config: NutcacheCdcConfig): boolean {
  const fromContext = stack.node.tryGetContext(SYNC_NOW_CONTEXT);
  return config.syncNow || fromContext === true || fromContext === 'true';
}

/** The inbound "sync now" webhook with its secret, and the outputs `SyncNowUrl` and `InboundWebhookSecretArn`. */
export function createSyncNow(
  stack: Stack,
  config: NutcacheCdcConfig,
  resources: { readonly table: dynamodb.ITable; readonly pollQueue: sqs.IQueue },
): SyncNowEndpoint {
  const inboundSecret = new secretsmanager.Secret(stack, 'InboundWebhookSecret', {
    description: 'Standard Webhooks secret of the inbound "sync now" webhook (give callers whsec_<value>)',
    generateSecretString: { passwordLength: 32, excludePunctuation: true },
  });
  Validations.of(inboundSecret).acknowledge({
    id: 'AwsSolutions-SMG4',
    reason: 'Rotated by hand with the callers (two secrets may be valid at once: docs/webhooks.md).',
  });
  const endpoint = new SyncNowEndpoint(stack, 'SyncNow', {
    table: resources.table,
    pollQueue: resources.pollQueue,
    environmentName: config.environmentName,
    secret: inboundSecret,
    reservedConcurrency: config.syncNowReservedConcurrency,
  });
  new CfnOutput(stack, 'SyncNowUrl', {
    value: endpoint.functionUrl.url,
    description: 'POST {"organizationGuid","mode"} here, signed with Standard Webhooks (docs/webhooks.md)',
  });
  new CfnOutput(stack, 'InboundWebhookSecretArn', { value: inboundSecret.secretArn });
  return endpoint;
}
