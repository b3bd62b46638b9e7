/**
 * The registry in the single table (docs/data-model.md, "Registry items"): every organization is one item
 * of the partition `REGISTRY#ORGANIZATIONS`, sort key `ORG#<GUID>`, so listing all of them is a paged Query
 * of one partition; the deployment record is the item `REGISTRY#DEPLOYMENT` / `CURRENT`. Neither partition
 * key starts with `ORG#` or `QUOTA#`, so registry items never mix with an organization's snapshots or a
 * quota counter.
 */
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { isConditionFailure } from '../store/dynamo-calls.ts';
import { TABLE_KEYS } from '../store/table.ts';
import { systemClock } from '../util/clock.ts';
import { type DeploymentRecord, parseDeploymentRecord } from './deployment.ts';
import {
  normalizeGuid,
  type OrganizationPatch,
  organizationPatchSchema,
  parseRegisteredOrganization,
  type RegisteredOrganization,
} from './model.ts';
import {
  OrganizationExistsError,
  OrganizationNotFoundError,
  type OrganizationRegistry,
  type RegistryPage,
} from './port.ts';

export const REGISTRY_KEYS = {
  organizationsPk: 'REGISTRY#ORGANIZATIONS',
  organizationSkPrefix: 'ORG#',
  deploymentPk: 'REGISTRY#DEPLOYMENT',
  deploymentSk: 'CURRENT',
} as const;

const PK = TABLE_KEYS.partitionKey;
const SK = TABLE_KEYS.sortKey;

export function registryKey(organizationGuid: string): Record<string, string> {
  return {
    [PK]: REGISTRY_KEYS.organizationsPk,
    [SK]: `${REGISTRY_KEYS.organizationSkPrefix}${normalizeGuid(organizationGuid)}`,
  };
}

const DEPLOYMENT_KEY = { [PK]: REGISTRY_KEYS.deploymentPk, [SK]: REGISTRY_KEYS.deploymentSk };

export interface DynamoRegistryOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly clock?: { now(): number };
  /** Items per listed page (default 100). */
  readonly pageSize?: number;
}

function withoutKeys(item: Record<string, unknown>): Record<string, unknown> {
  const { [PK]: _pk, [SK]: _sk, ...rest } = item;
  return rest;
}

export class DynamoOrganizationRegistry implements OrganizationRegistry {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #clock: { now(): number };
  readonly #pageSize: number;

  constructor(options: DynamoRegistryOptions) {
    this.#client = options.client;
    this.#table = options.tableName;
    this.#clock = options.clock ?? systemClock;
    this.#pageSize = options.pageSize ?? 100;
  }

  async get(organizationGuid: string): Promise<RegisteredOrganization | undefined> {
    const key = registryKey(organizationGuid);
    const out = await this.#client.send(
      new GetCommand({ TableName: this.#table, Key: key, ConsistentRead: true }),
    );
    return out.Item
      ? parseRegisteredOrganization(withoutKeys(out.Item), `registry item ${key[SK]}`)
      : undefined;
  }

  async listPage(options: { next?: string; limit?: number } = {}): Promise<RegistryPage> {
    const out = await this.#client.send(
      new QueryCommand({
        TableName: this.#table,
        KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
        ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
        ExpressionAttributeValues: {
          ':pk': REGISTRY_KEYS.organizationsPk,
          ':prefix': REGISTRY_KEYS.organizationSkPrefix,
        },
        Limit: options.limit ?? this.#pageSize,
        // Consistent, like `get`: the registrar decides add or update from this listing.
        ConsistentRead: true,
        ...(options.next ? { ExclusiveStartKey: registryKey(options.next) } : {}),
      }),
    );
    const organizations = (out.Items ?? []).map((item) =>
      parseRegisteredOrganization(withoutKeys(item), `registry item ${String(item[SK])}`),
    );
    const lastSk = out.LastEvaluatedKey?.[SK];
    const next =
      typeof lastSk === 'string' ? lastSk.slice(REGISTRY_KEYS.organizationSkPrefix.length) : undefined;
    return { organizations, ...(next ? { next } : {}) };
  }

  async *list(): AsyncIterable<RegisteredOrganization> {
    let next: string | undefined;
    do {
      const page = await this.listPage(next ? { next } : {});
      yield* page.organizations;
      next = page.next;
    } while (next);
  }

  async add(organization: RegisteredOrganization): Promise<void> {
    const checked = parseRegisteredOrganization(
      organization,
      `organization ${organization.organizationGuid}`,
    );
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#table,
          Item: { ...registryKey(checked.organizationGuid), ...checked },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': PK },
        }),
      );
    } catch (error) {
      if (isConditionFailure(error)) throw new OrganizationExistsError(checked.organizationGuid);
      throw error;
    }
  }

  async update(organizationGuid: string, patch: OrganizationPatch): Promise<RegisteredOrganization> {
    const guid = normalizeGuid(organizationGuid);
    const checked = organizationPatchSchema.parse(patch);
    const fields: Record<string, unknown> = {
      ...checked,
      updatedAt: new Date(this.#clock.now()).toISOString(),
    };
    const names: Record<string, string> = { '#pk': PK };
    const values: Record<string, unknown> = {};
    const sets: string[] = [];
    for (const [field, value] of Object.entries(fields)) {
      if (value === undefined) continue;
      names[`#${field}`] = field;
      values[`:${field}`] = value;
      sets.push(`#${field} = :${field}`);
    }
    try {
      const out = await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: registryKey(guid),
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return parseRegisteredOrganization(withoutKeys(out.Attributes ?? {}), `registry item ORG#${guid}`);
    } catch (error) {
      if (isConditionFailure(error)) throw new OrganizationNotFoundError(guid);
      throw error;
    }
  }

  async remove(organizationGuid: string): Promise<RegisteredOrganization | undefined> {
    const key = registryKey(organizationGuid);
    const out = await this.#client.send(
      new DeleteCommand({ TableName: this.#table, Key: key, ReturnValues: 'ALL_OLD' }),
    );
    return out.Attributes
      ? parseRegisteredOrganization(withoutKeys(out.Attributes), `registry item ${key[SK]}`)
      : undefined;
  }

  /** The deployment record, or undefined when the registrar has not written one (not deployed yet). */
  async getDeployment(): Promise<DeploymentRecord | undefined> {
    const out = await this.#client.send(
      new GetCommand({ TableName: this.#table, Key: DEPLOYMENT_KEY, ConsistentRead: true }),
    );
    return out.Item
      ? parseDeploymentRecord(withoutKeys(out.Item), `table ${this.#table}: the deployment record`)
      : undefined;
  }

  /** Writes (replaces) the deployment record; the registrar does this at every deploy. */
  async putDeployment(record: DeploymentRecord): Promise<void> {
    const checked = parseDeploymentRecord(record, 'deployment record');
    await this.#client.send(
      new PutCommand({ TableName: this.#table, Item: { ...DEPLOYMENT_KEY, ...checked } }),
    );
  }
}
