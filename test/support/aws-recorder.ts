/**
 * A recording loopback stand-in for every AWS API the project's functions call, on 127.0.0.1 behind one
 * `AWS_ENDPOINT_URL`. It dispatches on the service named in each request's SigV4 credential scope, answers
 * like the service would, and records each call as IAM sees it: the caller (the access key id of the
 * signature, one per function), the IAM action (`dynamodb:PutItem`), the resource ARN derived from the request
 * (table name → table ARN, secret id → the secret's full ARN, queue URL → queue ARN, function name → function
 * ARN, bus name → bus ARN) and the condition keys the request carries (`events:source`, `events:detail-type`
 * as lists of the entries' values, `dynamodb:LeadingKeys` as the partition keys touched).
 *
 * Served: DynamoDB (proxied to a dynalite), Secrets Manager, EventBridge PutEvents, SQS (JSON and query
 * protocols), Lambda (Invoke, ListEventSourceMappings, UpdateEventSourceMapping), CloudWatch PutMetricData
 * (query protocol). PutEvents can be told to reject some entries. With `authorize`, it enforces IAM as an
 * account would: a request needing a denied call is answered AccessDenied in the service's protocol. Anything else is answered 400 and listed in `unsupported`.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type StandInSchedule, schedulerHandler, writeSecret } from './aws-recorder-registry.ts';
import { ACCOUNT, queueUrlToArn, REGION } from './cfn-template.ts';
import { listenOnLoopback, md5, readBody } from './loopback.ts';

export type ContextValue = string | string[];

export interface RecordedCall {
  /** The access key id the request was signed with (the tests give each function its own). */
  readonly caller: string;
  readonly action: string;
  readonly resource: string;
  readonly context: Readonly<Record<string, ContextValue>>;
}

export interface StandInSecret {
  /** The full ARN, with Secrets Manager's 6-character suffix. */
  readonly arn: string;
  readonly value: string;
  /** A customer-managed KMS key: reading the secret then also needs `kms:Decrypt` on it. */
  readonly kmsKeyArn?: string;
  /** The tags it was created with (CreateSecret); a request on it carries them as `aws:ResourceTag/<key>` (ABAC). */
  readonly tags?: readonly { Key: string; Value: string }[];
}

export interface StandInEventSourceMapping {
  readonly uuid: string;
  readonly functionArn: string;
  readonly eventSourceArn: string;
  state: 'Enabled' | 'Disabled';
}

export interface PutEventsEntry {
  readonly EventBusName?: string;
  readonly Source?: string;
  readonly DetailType?: string;
  readonly Detail?: string;
  readonly Resources?: string[];
  readonly Time?: string | number;
}

export interface Invocation {
  readonly functionArn: string;
  readonly invocationType: string;
  readonly payload: string;
}

export interface AwsRecorderOptions {
  /** The dynalite (or DynamoDB Local) endpoint DynamoDB requests are proxied to. */
  readonly dynamodbEndpoint: string;
  /** The table's partition key attribute (from its key schema). */
  readonly partitionKey: string;
  /** Secrets the stand-in holds; CreateSecret and DeleteSecret change this list. */
  readonly secrets: StandInSecret[];
  readonly eventSourceMappings: StandInEventSourceMapping[];
  /**
   * Enforce IAM like an account: given the calls one request needs, a denial message for the first denied
   * one (the request is then answered with AccessDenied, as the service would), or undefined to serve it.
   */
  readonly authorize?: (calls: readonly RecordedCall[]) => Promise<string | undefined>;
  /** An EventBridge per-entry error code for entries PutEvents should reject (e.g. `MalformedDetail`). */
  readonly rejectEntry?: (entry: PutEventsEntry) => string | undefined;
}

export interface AwsRecorder {
  /** `http://127.0.0.1:<port>`: give it as `AWS_ENDPOINT_URL`. */
  readonly endpoint: string;
  readonly calls: RecordedCall[];
  readonly events: PutEventsEntry[];
  readonly messages: { readonly queueArn: string; readonly body: string }[];
  readonly invocations: Invocation[];
  readonly unsupported: string[];
  /** Scheduler's schedules by `<group>/<name>`. */
  readonly schedules: Map<string, StandInSchedule>;
  /** The secrets it holds now (the options' list, changed by CreateSecret and DeleteSecret). */
  readonly secrets: StandInSecret[];
  close(): Promise<void>;
}

export interface Exchange {
  readonly request: IncomingMessage;
  readonly response: ServerResponse;
  readonly body: string;
  readonly caller: string;
  readonly record: (action: string, resource: string, context?: Record<string, ContextValue>) => void;
  /** False, after answering AccessDenied, when `authorize` denies a call this request recorded. */
  readonly permitted: () => Promise<boolean>;
}

type Handler = (exchange: Exchange) => Promise<void> | void;

const arn = (service: string, rest: string) => `arn:aws:${service}:${REGION}:${ACCOUNT}:${rest}`;

function send(response: ServerResponse, status: number, body: string, contentType: string): void {
  response.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  response.end(body);
}

function sendJson(response: ServerResponse, status: number, body: unknown, version = '1.1'): void {
  send(response, status, JSON.stringify(body), `application/x-amz-json-${version}`);
}

/** `Credential=<key>/<date>/<region>/<service>/aws4_request` of a SigV4 Authorization header. */
function credentialScope(request: IncomingMessage): { caller: string; service: string } {
  const match = /Credential=([^/]+)\/[^/]+\/[^/]+\/([^/]+)\//.exec(
    String(request.headers.authorization ?? ''),
  );
  return { caller: match?.[1] ?? 'anonymous', service: match?.[2] ?? 'unknown' };
}

function parseJson(text: string): Record<string, unknown> {
  return (text ? JSON.parse(text) : {}) as Record<string, unknown>;
}

// --- DynamoDB ----------------------------------------------------------------------------------------

type AttributeMap = Record<string, { S?: string; N?: string; B?: string }>;

function tableArn(tableNameOrArn: string, indexName?: string): string {
  const base = tableNameOrArn.startsWith('arn:')
    ? tableNameOrArn
    : arn('dynamodb', `table/${tableNameOrArn}`);
  return indexName ? `${base}/index/${indexName}` : base;
}

function keyValue(item: AttributeMap | undefined, partitionKey: string): string | undefined {
  const attribute = item?.[partitionKey];
  return attribute?.S ?? attribute?.N ?? attribute?.B;
}

/** The partition key value a Query's key condition fixes. */
function queriedPartitionKey(input: Record<string, unknown>, partitionKey: string): string | undefined {
  const names = (input.ExpressionAttributeNames ?? {}) as Record<string, string>;
  const values = (input.ExpressionAttributeValues ?? {}) as AttributeMap;
  const expression = String(input.KeyConditionExpression ?? '');
  for (const match of expression.matchAll(/([#\w]+)\s*=\s*(:\w+)/g)) {
    const name = match[1]?.startsWith('#') ? names[match[1]] : match[1];
    if (name === partitionKey) return keyValue({ v: values[match[2] ?? ''] ?? {} }, 'v');
  }
  const legacy = (input.KeyConditions ?? {}) as Record<
    string,
    { AttributeValueList?: AttributeMap[string][] }
  >;
  const first = legacy[partitionKey]?.AttributeValueList?.[0];
  return first ? keyValue({ v: first }, 'v') : undefined;
}

interface DynamoCall {
  readonly action: string;
  readonly table: string;
  readonly index?: string;
  readonly keys?: (string | undefined)[];
}

const TRANSACT_ACTIONS: Record<string, string> = {
  Put: 'PutItem',
  Update: 'UpdateItem',
  Delete: 'DeleteItem',
  ConditionCheck: 'ConditionCheckItem',
  Get: 'GetItem',
};

/** The IAM authorizations one DynamoDB request needs (transactions: one per item, by its own action). */
function dynamoCalls(operation: string, input: Record<string, unknown>, pk: string): DynamoCall[] {
  const table = String(input.TableName ?? '');
  switch (operation) {
    case 'PutItem':
      return [{ action: operation, table, keys: [keyValue(input.Item as AttributeMap, pk)] }];
    case 'GetItem':
    case 'DeleteItem':
    case 'UpdateItem':
      return [{ action: operation, table, keys: [keyValue(input.Key as AttributeMap, pk)] }];
    case 'Query':
      return [
        {
          action: operation,
          table,
          index: input.IndexName as string | undefined,
          keys: [queriedPartitionKey(input, pk)],
        },
      ];
    case 'BatchGetItem':
      return Object.entries((input.RequestItems ?? {}) as Record<string, { Keys: AttributeMap[] }>).map(
        ([name, request]) => ({
          action: operation,
          table: name,
          keys: request.Keys.map((k) => keyValue(k, pk)),
        }),
      );
    case 'BatchWriteItem':
      return Object.entries(
        (input.RequestItems ?? {}) as Record<
          string,
          { PutRequest?: { Item: AttributeMap }; DeleteRequest?: { Key: AttributeMap } }[]
        >,
      ).map(([name, requests]) => ({
        action: operation,
        table: name,
        keys: requests.map((r) => keyValue(r.PutRequest?.Item ?? r.DeleteRequest?.Key, pk)),
      }));
    case 'TransactWriteItems':
    case 'TransactGetItems':
      return (
        (input.TransactItems ?? []) as Record<
          string,
          { TableName: string; Item?: AttributeMap; Key?: AttributeMap }
        >[]
      ).flatMap((item) =>
        Object.entries(item).map(([kind, request]) => ({
          action: TRANSACT_ACTIONS[kind] ?? kind,
          table: request.TableName,
          keys: [keyValue(request.Item ?? request.Key, pk)],
        })),
      );
    default:
      return [{ action: operation, table }];
  }
}

function dynamodbHandler(options: AwsRecorderOptions): Handler {
  return async ({ request, response, body, record, permitted }) => {
    const target = String(request.headers['x-amz-target'] ?? '');
    const operation = target.split('.')[1] ?? target;
    for (const call of dynamoCalls(operation, parseJson(body), options.partitionKey)) {
      const keys = (call.keys ?? []).filter((k): k is string => k !== undefined);
      record(
        `dynamodb:${call.action}`,
        tableArn(call.table, call.index),
        keys.length > 0 ? { 'dynamodb:LeadingKeys': [...new Set(keys)] } : {},
      );
    }
    if (!(await permitted())) return;
    const forwarded = await fetch(options.dynamodbEndpoint, {
      method: 'POST',
      headers: {
        'content-type': String(request.headers['content-type'] ?? 'application/x-amz-json-1.0'),
        'x-amz-target': target,
        authorization: String(request.headers.authorization ?? ''),
        'x-amz-date': String(request.headers['x-amz-date'] ?? ''),
      },
      body,
    });
    send(
      response,
      forwarded.status,
      await forwarded.text(),
      forwarded.headers.get('content-type') ?? 'application/x-amz-json-1.0',
    );
  };
}

// --- Secrets Manager -----------------------------------------------------------------------------------

function findSecret(secrets: readonly StandInSecret[], id: string): StandInSecret | undefined {
  return secrets.find((s) => {
    const partial = s.arn.replace(/-[A-Za-z0-9]{6}$/, '');
    const name = partial.split(':secret:')[1];
    return id === s.arn || id === partial || id === name;
  });
}

function secretsHandler(options: AwsRecorderOptions): Handler {
  return async ({ request, response, body, record, permitted }) => {
    const operation = String(request.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
    const input = parseJson(body);
    const id = String(input.SecretId ?? input.Name ?? '');
    const secret = findSecret(options.secrets, id);
    const resource = secret?.arn ?? (id.startsWith('arn:') ? id : arn('secretsmanager', `secret:${id}`));
    const tags = (secret?.tags ?? []).map((t) => [`aws:ResourceTag/${t.Key}`, t.Value]);
    record(`secretsmanager:${operation}`, resource, Object.fromEntries(tags));
    if (secret?.kmsKeyArn && operation === 'GetSecretValue') {
      // Secrets Manager decrypts with the caller's permissions (kms:ViaService names the service).
      record('kms:Decrypt', secret.kmsKeyArn, {
        'kms:ViaService': `secretsmanager.${REGION}.amazonaws.com`,
        'kms:EncryptionContext:SecretARN': secret.arn,
      });
    }
    if (!(await permitted())) return;
    if (writeSecret(operation, input, options.secrets, response)) return;
    if (!secret) {
      sendJson(response, 400, {
        __type: 'ResourceNotFoundException',
        message: "Secrets Manager can't find the specified secret.",
      });
      return;
    }
    const name = secret.arn.split(':secret:')[1]?.replace(/-[A-Za-z0-9]{6}$/, '');
    if (operation === 'DescribeSecret') {
      sendJson(response, 200, {
        ARN: secret.arn,
        Name: name,
        ...(secret.kmsKeyArn ? { KmsKeyId: secret.kmsKeyArn } : {}),
      });
      return;
    }
    sendJson(response, 200, {
      ARN: secret.arn,
      Name: name,
      SecretString: secret.value,
      VersionId: 'v1',
      VersionStages: ['AWSCURRENT'],
      CreatedDate: 1_700_000_000,
    });
  };
}

// --- EventBridge ---------------------------------------------------------------------------------------

function busArn(nameOrArn: string | undefined): string {
  if (nameOrArn?.startsWith('arn:')) return nameOrArn;
  return arn('events', `event-bus/${nameOrArn ?? 'default'}`);
}

function eventsHandler(events: PutEventsEntry[], reject: AwsRecorderOptions['rejectEntry']): Handler {
  return async ({ request, response, body, record, permitted }) => {
    const operation = String(request.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
    const entries = (parseJson(body).Entries ?? []) as PutEventsEntry[];
    // One authorization per bus named in the request, with the set of the entries' sources and detail types.
    const byBus = new Map<string, PutEventsEntry[]>();
    for (const entry of entries)
      byBus.set(busArn(entry.EventBusName), [...(byBus.get(busArn(entry.EventBusName)) ?? []), entry]);
    for (const [bus, list] of byBus) {
      record(`events:${operation}`, bus, {
        'events:source': list.map((e) => String(e.Source)),
        'events:detail-type': list.map((e) => String(e.DetailType)),
      });
    }
    if (!(await permitted())) return;
    const results = entries.map((entry) => {
      const code = reject?.(entry);
      if (code) return { ErrorCode: code, ErrorMessage: `rejected by the stand-in (${code})` };
      events.push(entry);
      return { EventId: randomUUID() };
    });
    sendJson(response, 200, {
      FailedEntryCount: results.filter((r) => 'ErrorCode' in r).length,
      Entries: results,
    });
  };
}

// --- SQS -----------------------------------------------------------------------------------------------

/** IAM authorizes the batch forms as their single-message actions. */
const SQS_IAM_ACTION: Record<string, string> = {
  SendMessageBatch: 'SendMessage',
  DeleteMessageBatch: 'DeleteMessage',
  ChangeMessageVisibilityBatch: 'ChangeMessageVisibility',
};

function sqsAnswer(operation: string, input: Record<string, unknown>): Record<string, unknown> {
  switch (operation) {
    case 'SendMessage':
      return { MessageId: randomUUID(), MD5OfMessageBody: md5(String(input.MessageBody ?? '')) };
    case 'SendMessageBatch':
      return {
        Successful: ((input.Entries ?? []) as { Id: string; MessageBody: string }[]).map((e) => ({
          Id: e.Id,
          MessageId: randomUUID(),
          MD5OfMessageBody: md5(e.MessageBody),
        })),
        Failed: [],
      };
    case 'DeleteMessageBatch':
    case 'ChangeMessageVisibilityBatch':
      return {
        Successful: ((input.Entries ?? []) as { Id: string }[]).map((e) => ({ Id: e.Id })),
        Failed: [],
      };
    case 'ReceiveMessage':
      return { Messages: [] };
    case 'GetQueueAttributes':
      return { Attributes: { QueueArn: queueUrlToArn(String(input.QueueUrl)) } };
    default:
      return {};
  }
}

function queryToXml(operation: string, answer: Record<string, unknown>): string {
  const fields = Object.entries(answer)
    .filter(([, v]) => typeof v === 'string')
    .map(([k, v]) => `<${k}>${String(v)}</${k}>`)
    .join('');
  return `<${operation}Response xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><${operation}Result>${fields}</${operation}Result><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${operation}Response>`;
}

function sqsHandler(messages: AwsRecorder['messages']): Handler {
  return async ({ request, response, body, record, permitted }) => {
    const target = request.headers['x-amz-target'];
    const query = target === undefined;
    const form = query ? Object.fromEntries(new URLSearchParams(body)) : undefined;
    const operation = query ? String(form?.Action ?? '') : (String(target).split('.')[1] ?? '');
    const input = form ?? parseJson(body);
    const queueArn =
      input.QueueUrl !== undefined
        ? queueUrlToArn(String(input.QueueUrl))
        : arn('sqs', String(input.QueueName ?? ''));
    record(`sqs:${SQS_IAM_ACTION[operation] ?? operation}`, queueArn);
    if (!(await permitted())) return;
    if (operation === 'SendMessage') messages.push({ queueArn, body: String(input.MessageBody ?? '') });
    if (operation === 'SendMessageBatch') {
      for (const entry of (input.Entries ?? []) as { MessageBody: string }[])
        messages.push({ queueArn, body: entry.MessageBody });
    }
    const answer = sqsAnswer(operation, input);
    if (query) send(response, 200, queryToXml(operation, answer), 'text/xml');
    else sendJson(response, 200, answer, '1.0');
  };
}

// --- Lambda --------------------------------------------------------------------------------------------

function functionArn(nameOrArn: string, qualifier?: string | null): string {
  const base = nameOrArn.startsWith('arn:') ? nameOrArn : arn('lambda', `function:${nameOrArn}`);
  return qualifier ? `${base}:${qualifier}` : base;
}

function mappingJson(m: StandInEventSourceMapping) {
  return {
    UUID: m.uuid,
    FunctionArn: m.functionArn,
    EventSourceArn: m.eventSourceArn,
    State: m.state,
    BatchSize: 10,
  };
}

/** Lambda's REST routes the functions use; anything else is unsupported. */
function lambdaHandler(options: AwsRecorderOptions, invocations: Invocation[]): Handler {
  return async (exchange) => {
    const url = new URL(exchange.request.url ?? '/', 'http://localhost');
    const method = exchange.request.method;
    const invoke = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(url.pathname);
    if (invoke && method === 'POST')
      return invokeFunction(exchange, url, decodeURIComponent(invoke[1] ?? ''), invocations);
    if (url.pathname.startsWith('/2015-03-31/event-source-mappings') && method === 'GET') {
      return listMappings(exchange, url, options.eventSourceMappings);
    }
    const update = /^\/2015-03-31\/event-source-mappings\/([^/]+)$/.exec(url.pathname);
    const mapping = options.eventSourceMappings.find((m) => m.uuid === update?.[1]);
    if (update && method === 'PUT' && mapping) return updateMapping(exchange, mapping);
    throw new Error(`unsupported lambda ${method} ${url.pathname}`);
  };
}

async function invokeFunction(
  { request, response, body, record, permitted }: Exchange,
  url: URL,
  name: string,
  invocations: Invocation[],
) {
  const target = functionArn(name, url.searchParams.get('Qualifier'));
  record('lambda:InvokeFunction', target);
  if (!(await permitted())) return;
  const invocationType = String(request.headers['x-amz-invocation-type'] ?? 'RequestResponse');
  invocations.push({ functionArn: target, invocationType, payload: body });
  response.writeHead(invocationType === 'Event' ? 202 : 200, { 'content-type': 'application/json' });
  response.end(invocationType === 'Event' ? '' : 'null');
}

async function listMappings(
  { response, record, permitted }: Exchange,
  url: URL,
  mappings: readonly StandInEventSourceMapping[],
) {
  record('lambda:ListEventSourceMappings', '*');
  if (!(await permitted())) return;
  const fn = url.searchParams.get('FunctionName');
  const source = url.searchParams.get('EventSourceArn');
  const found = mappings.filter(
    (m) => (!fn || m.functionArn === functionArn(fn)) && (!source || m.eventSourceArn === source),
  );
  sendJson(response, 200, { EventSourceMappings: found.map(mappingJson) });
}

async function updateMapping(
  { response, body, record, permitted }: Exchange,
  mapping: StandInEventSourceMapping,
) {
  record('lambda:UpdateEventSourceMapping', arn('lambda', `event-source-mapping:${mapping.uuid}`), {
    'lambda:FunctionArn': mapping.functionArn,
  });
  if (!(await permitted())) return;
  if (parseJson(body).Enabled === false) mapping.state = 'Disabled';
  sendJson(response, 202, mappingJson(mapping));
}

// --- CloudWatch ------------------------------------------------------------------------------------------

const cloudwatchHandler: Handler = async ({ response, body, record, permitted }) => {
  const form = Object.fromEntries(new URLSearchParams(body));
  record(`cloudwatch:${form.Action}`, '*', form.Namespace ? { 'cloudwatch:namespace': form.Namespace } : {});
  if (!(await permitted())) return;
  send(
    response,
    200,
    `<${form.Action}Response><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${form.Action}Response>`,
    'text/xml',
  );
};

/** AccessDenied in the protocol of the service that was called. */
function accessDenied(
  service: string,
  request: IncomingMessage,
  response: ServerResponse,
  message: string,
): void {
  if (service === 'lambda') {
    response.setHeader('x-amzn-errortype', 'AccessDeniedException');
    sendJson(response, 403, { Type: 'User', message });
  } else if (request.headers['x-amz-target'] === undefined) {
    const xml = `<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>${message}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`;
    send(response, 403, xml, 'text/xml');
  } else {
    sendJson(
      response,
      400,
      { __type: 'AccessDeniedException', message },
      service === 'dynamodb' || service === 'sqs' ? '1.0' : '1.1',
    );
  }
}

export async function startAwsRecorder(options: AwsRecorderOptions): Promise<AwsRecorder> {
  const calls: RecordedCall[] = [];
  const events: PutEventsEntry[] = [];
  const messages: AwsRecorder['messages'] = [];
  const invocations: Invocation[] = [];
  const unsupported: string[] = [];
  const schedules = new Map<string, StandInSchedule>();
  const handlers: Record<string, Handler> = {
    scheduler: schedulerHandler(schedules),
    dynamodb: dynamodbHandler(options),
    secretsmanager: secretsHandler(options),
    events: eventsHandler(events, options.rejectEntry),
    sqs: sqsHandler(messages),
    lambda: lambdaHandler(options, invocations),
    monitoring: cloudwatchHandler,
  };
  const server = createServer(async (request, response) => {
    const { caller, service } = credentialScope(request);
    const body = await readBody(request);
    const handler = handlers[service];
    if (!handler) {
      unsupported.push(
        `${service} ${request.method} ${request.url} ${String(request.headers['x-amz-target'] ?? '')}`,
      );
      sendJson(response, 400, { __type: 'UnknownOperationException', message: `no stand-in for ${service}` });
      return;
    }
    const pending: RecordedCall[] = [];
    const record = (action: string, resource: string, context: Record<string, ContextValue> = {}) => {
      const call = { caller, action, resource, context };
      calls.push(call);
      pending.push(call);
    };
    const permitted = async () => {
      const denial = options.authorize ? await options.authorize(pending) : undefined;
      if (denial !== undefined) accessDenied(service, request, response, denial);
      return denial === undefined;
    };
    try {
      await handler({ request, response, body, caller, record, permitted });
    } catch (error) {
      unsupported.push(`${service}: ${error instanceof Error ? error.message : String(error)}`);
      if (!response.headersSent)
        sendJson(response, 500, { __type: 'InternalFailure', message: 'stand-in failed' });
    }
  });
  const { port, close } = await listenOnLoopback(server);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    events,
    messages,
    invocations,
    unsupported,
    schedules,
    secrets: options.secrets,
    close,
  };
}
