/**
 * Builds the engine's adapters for a CLI run from its options: DynamoDB through the standard AWS SDK
 * configuration (`--table`) or the embedded dynalite under `--state-dir`; EventBridge (`--event-bus`), a
 * signed webhook (`--webhook-url`) or JSON lines (`--events-file`, default stdout); credentials from the
 * environment or from Secrets Manager (`--secret-id`).
 */
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { NutcacheClient } from '../../shared/nutcache/client.ts';
import {
  clientConfigFromSecret,
  type NutcacheSecret,
  parseNutcacheSecret,
} from '../../shared/nutcache/secret.ts';
import type { DeadLetterSink, EventBus, Log } from '../../shared/ports.ts';
import { JsonLinesDeadLetterSink, SqsDeadLetterSink } from '../../shared/publish/dead-letter.ts';
import { EventBridgeBus } from '../../shared/publish/eventbridge.ts';
import { JsonLinesBus } from '../../shared/publish/jsonl.ts';
import type { QuotaStore } from '../../shared/quota/budget.ts';
import { DynamoQuotaStore } from '../../shared/quota/dynamodb.ts';
import { DynamoOrganizationRegistry } from '../../shared/registry/dynamodb.ts';
import { createTable } from '../../shared/store/create-table.ts';
import { createDocumentClient, DynamoSnapshotStore } from '../../shared/store/dynamodb.ts';
import { startLocalDynamo } from '../../shared/store/local-dynamo.ts';
import { systemClock } from '../../shared/util/clock.ts';
import { WebhookBus } from '../../shared/webhooks/webhook-bus.ts';
import { PrintingBus } from './pretty.ts';

export const LOCAL_TABLE_NAME = 'nutcache-cdc';

export interface StoreOptions {
  /** A DynamoDB table reached through the standard SDK configuration. */
  readonly table?: string;
  /** Where the embedded DynamoDB keeps its files (when no table is given). */
  readonly stateDir: string;
  /** Keep the embedded DynamoDB in memory instead (the demo). */
  readonly inMemory?: boolean;
}

export interface LocalStore {
  readonly store: DynamoSnapshotStore;
  readonly quota: QuotaStore;
  /** The organization registry in the same table (`nutcache-cdc orgs`, `poll --all`). */
  readonly registry: DynamoOrganizationRegistry;
  readonly description: string;
  close(): Promise<void>;
}

export async function openStore(options: StoreOptions): Promise<LocalStore> {
  if (options.table) {
    const client = new DynamoDBClient({});
    const doc = createDocumentClient(client);
    return {
      store: new DynamoSnapshotStore({ client: doc, tableName: options.table }),
      quota: new DynamoQuotaStore({ client: doc, tableName: options.table }),
      registry: new DynamoOrganizationRegistry({ client: doc, tableName: options.table }),
      description: `DynamoDB table ${options.table}`,
      close: async () => client.destroy(),
    };
  }
  const local = await startLocalDynamo(
    options.inMemory ? {} : { stateDir: join(options.stateDir, 'dynamodb') },
  );
  await createTable(local.client, LOCAL_TABLE_NAME);
  const doc = createDocumentClient(local.client);
  return {
    store: new DynamoSnapshotStore({ client: doc, tableName: LOCAL_TABLE_NAME }),
    quota: new DynamoQuotaStore({ client: doc, tableName: LOCAL_TABLE_NAME }),
    registry: new DynamoOrganizationRegistry({ client: doc, tableName: LOCAL_TABLE_NAME }),
    description: options.inMemory
      ? 'embedded DynamoDB (in memory)'
      : `embedded DynamoDB in ${options.stateDir}`,
    close: () => local.close(),
  };
}

export interface BusOptions {
  readonly eventBus?: string;
  readonly eventsFile?: string;
  readonly webhookUrl?: string;
  readonly webhookSecret?: string;
  /** Print events readably on stdout (instead of JSON lines there). */
  readonly pretty?: boolean;
  readonly deadLetterQueueUrl?: string;
  readonly stateDir: string;
  readonly log: Log;
}

export interface Publishing {
  readonly bus: EventBus;
  readonly deadLetters: DeadLetterSink;
  readonly description: string;
}

/** Fails at once, with one line, when the AWS SDK has no region (instead of retrying every call). */
async function requireRegion(
  client: { config: { region: () => Promise<string> } },
  what: string,
): Promise<void> {
  try {
    await client.config.region();
  } catch {
    throw new Error(`${what} needs an AWS region: set AWS_REGION (or a profile with a region)`);
  }
}

export async function openPublishing(options: BusOptions): Promise<Publishing> {
  let bus: EventBus;
  let description: string;
  if (options.eventBus) {
    const client = new EventBridgeClient({});
    await requireRegion(client, '--event-bus');
    bus = new EventBridgeBus({ client, eventBusName: options.eventBus });
    description = `EventBridge bus ${options.eventBus}`;
  } else if (options.webhookUrl) {
    if (!options.webhookSecret) throw new Error('--webhook-url needs --webhook-secret whsec_…');
    bus = new WebhookBus({ url: options.webhookUrl, secret: options.webhookSecret, log: options.log });
    description = `signed webhooks to ${new URL(options.webhookUrl).origin}`;
  } else if (options.eventsFile && options.eventsFile !== '-') {
    bus = new JsonLinesBus({ target: options.eventsFile });
    description = `JSON lines in ${options.eventsFile}`;
  } else {
    bus = options.pretty ? new PrintingBus(process.stdout) : new JsonLinesBus({ target: process.stdout });
    description = options.pretty ? 'the terminal' : 'JSON lines on stdout';
  }
  if (options.pretty && !(bus instanceof PrintingBus) && !options.eventBus) {
    bus = new PrintingBus(process.stdout, bus);
  }
  const deadLetters: DeadLetterSink = options.deadLetterQueueUrl
    ? new SqsDeadLetterSink({
        client: new SQSClient({}),
        queueUrl: options.deadLetterQueueUrl,
        clock: systemClock,
      })
    : new JsonLinesDeadLetterSink({
        target: join(options.stateDir, 'dead-letters.jsonl'),
        clock: systemClock,
      });
  return { bus, deadLetters, description };
}

export interface CredentialOptions {
  readonly secretId?: string;
  readonly baseUrl?: string;
  readonly organizationGuid?: string;
  readonly authScheme?: 'nut-basic' | 'bearer';
  readonly env?: NodeJS.ProcessEnv;
}

const ENV_NAMES = {
  apiKey: 'NUTCACHE_API_KEY',
  username: 'NUTCACHE_USERNAME',
  password: 'NUTCACHE_PASSWORD',
  organizationGuid: 'NUTCACHE_ORGANIZATION_GUID',
} as const;

/** Credentials from Secrets Manager (`--secret-id`) or the NUTCACHE_* environment variables. */
export async function loadCredentials(options: CredentialOptions): Promise<NutcacheSecret> {
  let secret: NutcacheSecret;
  if (options.secretId) {
    const client = new SecretsManagerClient({});
    try {
      const answer = await client.send(new GetSecretValueCommand({ SecretId: options.secretId }));
      secret = parseNutcacheSecret(answer.SecretString, options.secretId);
    } finally {
      client.destroy();
    }
  } else {
    const env = options.env ?? process.env;
    const missing = Object.entries(ENV_NAMES)
      .filter(([field]) => field !== 'organizationGuid' || !options.organizationGuid)
      .filter(([, name]) => !env[name])
      .map(([, name]) => name);
    if (missing.length > 0) {
      throw new Error(`Nutcache credentials missing: set ${missing.join(', ')} (or use --secret-id)`);
    }
    secret = parseNutcacheSecret(
      {
        apiKey: env[ENV_NAMES.apiKey],
        username: env[ENV_NAMES.username],
        password: env[ENV_NAMES.password],
        organizationGuid: options.organizationGuid ?? env[ENV_NAMES.organizationGuid],
      },
      'the NUTCACHE_* environment variables',
    );
  }
  return {
    ...secret,
    ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}),
    ...(options.authScheme ? { authScheme: options.authScheme } : {}),
    ...(options.organizationGuid ? { organizationGuid: options.organizationGuid } : {}),
  };
}

export function createClient(secret: NutcacheSecret, log: Log, deadline?: number): NutcacheClient {
  return new NutcacheClient({
    ...clientConfigFromSecret(secret),
    logger: log,
    clock: systemClock,
    ...(deadline !== undefined ? { deadline } : {}),
  });
}
