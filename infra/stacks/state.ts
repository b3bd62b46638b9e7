/** The stack's state: the snapshot table and the two dead-letter stores (undeliverable events, failed polls). */
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { TABLE_KEYS } from '../../shared/store/table.ts';
import type { NutcacheCdcConfig } from '../config.ts';
import { terminalQueue } from '../constructs/queues.ts';

/** The resources of the stack's fields of the same names (documented there). */
export interface StateResources {
  readonly table: dynamodb.Table;
  readonly deadLetterQueue: sqs.Queue;
  readonly pollFailureQueue: sqs.Queue;
}

/** The table (snapshots, index, leases, journal, runs: shared/store/table.ts) and the dead-letter queues. */
export function createState(scope: Construct, config: NutcacheCdcConfig): StateResources {
  const table = new dynamodb.Table(scope, 'Table', {
    partitionKey: { name: TABLE_KEYS.partitionKey, type: dynamodb.AttributeType.STRING },
    sortKey: { name: TABLE_KEYS.sortKey, type: dynamodb.AttributeType.STRING },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    // Encrypted at rest with an AWS owned key (no KMS charge); cdk-nag's packs ask for no more.
    encryption: dynamodb.TableEncryption.DEFAULT,
    timeToLiveAttribute: TABLE_KEYS.timeToLive,
    removalPolicy: config.retainTable ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    deletionProtection: config.retainTable,
  });
  return {
    table,
    deadLetterQueue: deadLetterStore(scope, 'EventDeadLetterQueue'),
    pollFailureQueue: deadLetterStore(scope, 'PollFailureQueue'),
  };
}

/** A queue of the stack that is itself a dead-letter store (terminal). */
function deadLetterStore(scope: Construct, id: string): sqs.Queue {
  return terminalQueue(scope, id, {
    noDeadLetterQueue:
      'This queue is itself a dead-letter store (terminal): messages are inspected and redriven by an operator.',
    noRedrivePolicy:
      'This queue is itself a dead-letter store (terminal): a redrive policy would only move failures again.',
  });
}
