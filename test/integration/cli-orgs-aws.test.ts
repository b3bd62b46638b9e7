/**
 * `nutcache-cdc orgs` and `poll --all` in AWS mode (`--table`), as an operator runs them (child processes
 * with the standard AWS SDK configuration), against loopback stand-ins: DynamoDB (dynalite behind the
 * recording AWS stand-in), Secrets Manager and EventBridge Scheduler (the stand-in), and the sandbox.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../sandbox/server.ts';
import { apiKeyId } from '../../shared/quota/budget.ts';
import { DynamoOrganizationRegistry } from '../../shared/registry/dynamodb.ts';
import { createTable } from '../../shared/store/create-table.ts';
import { createDocumentClient } from '../../shared/store/dynamodb.ts';
import { type LocalDynamo, startLocalDynamo } from '../../shared/store/local-dynamo.ts';
import { TABLE_KEYS } from '../../shared/store/table.ts';
import { deploymentRecord, guid } from '../registry/helpers.ts';
import { type AwsRecorder, startAwsRecorder } from '../support/aws-recorder.ts';
import { ACCOUNT, REGION } from '../support/cfn-template.ts';
import { type CliRun, runCli } from '../support/cli.ts';

const TABLE = 'nutcache-cdc-prod';
const KEY = { apiKey: 'operator-key-0123456789', username: 'ops@example.com', password: 'operator-pass' };
const ADDED = guid(1).toUpperCase();
const REFERENCED = guid(2).toUpperCase();
const deployment = deploymentRecord({ region: REGION });
const EXISTING_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:imported/${REFERENCED}-AbCdEf`;

describe('nutcache-cdc orgs and poll --all in AWS mode (loopback stand-ins)', () => {
  let local: LocalDynamo;
  let aws: AwsRecorder;
  let sandbox: Sandbox;
  let dir: string;
  let registry: DynamoOrganizationRegistry;
  let env: Record<string, string>;
  const cli = (args: string[], extra: Record<string, string> = {}): Promise<CliRun> =>
    runCli(args, { ...env, ...extra }, 60_000);
  const orgs = (args: string[], extra: Record<string, string> = {}) =>
    cli(['orgs', ...args, '--table', TABLE], extra);
  const schedule = (org: string) => aws.schedules.get(`${deployment.scheduleGroupName}/org-${org}`);

  beforeAll(async () => {
    local = await startLocalDynamo();
    await createTable(local.client, TABLE);
    await createTable(local.client, 'not-deployed');
    registry = new DynamoOrganizationRegistry({
      client: createDocumentClient(local.client),
      tableName: TABLE,
    });
    await registry.putDeployment(deployment);
    sandbox = await startSandbox({ credentials: [KEY], organizationGuids: [ADDED, REFERENCED] });
    aws = await startAwsRecorder({
      dynamodbEndpoint: local.endpoint,
      partitionKey: TABLE_KEYS.partitionKey,
      secrets: [
        {
          arn: EXISTING_ARN,
          value: JSON.stringify({ ...KEY, organizationGuid: REFERENCED, baseUrl: sandbox.url }),
        },
      ],
      eventSourceMappings: [],
    });
    dir = mkdtempSync(join(tmpdir(), 'nutcache-cdc-orgs-aws-'));
    env = {
      HOME: dir,
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: 'operator',
      AWS_SECRET_ACCESS_KEY: 'operator-secret',
      AWS_ENDPOINT_URL: aws.endpoint,
    };
  });

  afterAll(async () => {
    await aws?.close();
    await sandbox?.close();
    await local?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a malformed GUID with exit 64 before contacting AWS', async () => {
    const run = await orgs(['add', '1234'], { NUTCACHE_API_KEY: KEY.apiKey });
    expect(run.code).toBe(64);
    expect(aws.calls).toEqual([]);
  });

  it('says when the table has no deployment record', async () => {
    const run = await cli(['orgs', 'list', '--table', 'not-deployed']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('table not-deployed has no deployment record');
  });

  it('add creates the tagged secret from the environment, the registry item and the schedule', async () => {
    const run = await orgs(
      ['add', ADDED.toLowerCase(), '--label', 'Acme', '--every', '30', '--base-url', sandbox.url],
      {
        NUTCACHE_API_KEY: KEY.apiKey,
        NUTCACHE_USERNAME: KEY.username,
        NUTCACHE_PASSWORD: KEY.password,
      },
    );
    expect(run.code, run.stderr).toBe(0);
    const secret = aws.secrets.find((s) => s.arn.includes(`:secret:${deployment.secretNamePrefix}${ADDED}-`));
    expect(secret?.tags).toEqual([{ Key: 'nutcache-cdc:environment', Value: 'prod' }]);
    expect(JSON.parse(secret?.value ?? '{}')).toEqual({
      ...KEY,
      organizationGuid: ADDED,
      baseUrl: sandbox.url,
    });

    const item = await registry.get(ADDED);
    expect(item).toMatchObject({
      label: 'Acme',
      everyMinutes: 30,
      state: 'active',
      managedBy: 'cli',
      createdSecret: true,
      credentials: { kind: 'secretsManager', secretArn: secret?.arn },
      apiKeyGroup: apiKeyId(KEY.apiKey),
    });
    expect(JSON.stringify(item)).not.toContain(KEY.password);
    expect(schedule(ADDED)).toMatchObject({
      ScheduleExpression: 'rate(30 minutes)',
      FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 1 },
      State: 'ENABLED',
      Target: {
        Arn: deployment.pollQueueArn,
        RoleArn: deployment.schedulerRoleArn,
        SqsParameters: { MessageGroupId: apiKeyId(KEY.apiKey) },
        DeadLetterConfig: { Arn: deployment.scheduleDeadLetterQueueArn },
      },
    });
  });

  it('add --secret-id references an existing secret (read, not created); adding twice fails', async () => {
    const before = aws.secrets.length;
    const run = await orgs(['add', REFERENCED, '--secret-id', EXISTING_ARN, '--api-key-group', 'team-a']);
    expect(run.code, run.stderr).toBe(0);
    expect(aws.secrets).toHaveLength(before);
    expect(await registry.get(REFERENCED)).toMatchObject({
      credentials: { kind: 'secretsManager', secretArn: EXISTING_ARN },
      apiKeyGroup: 'team-a',
    });
    expect((await registry.get(REFERENCED))?.createdSecret).toBeUndefined();
    expect(schedule(REFERENCED)?.Target).toMatchObject({ SqsParameters: { MessageGroupId: 'team-a' } });

    const again = await orgs(['add', REFERENCED, '--secret-id', EXISTING_ARN]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already registered');
  });

  it('pause and resume flip the registry state and the schedule; set changes the interval', async () => {
    expect((await orgs(['pause', ADDED])).code).toBe(0);
    expect((await registry.get(ADDED))?.state).toBe('paused');
    expect(schedule(ADDED)?.State).toBe('DISABLED');
    expect((await orgs(['resume', ADDED])).code).toBe(0);
    expect(schedule(ADDED)?.State).toBe('ENABLED');
    expect((await orgs(['set', ADDED, '--every', '60'])).code).toBe(0);
    expect(schedule(ADDED)).toMatchObject({
      ScheduleExpression: 'rate(60 minutes)',
      FlexibleTimeWindow: { MaximumWindowInMinutes: 3 },
      State: 'ENABLED',
    });
  });

  it('poll --all polls both organizations with their secrets', async () => {
    const eventsFile = join(dir, 'events.jsonl');
    const run = await cli(['poll', '--all', '--table', TABLE, '--events-file', eventsFile]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('2 organizations polled, 2 succeeded, 0 failed');
    const reads = aws.calls
      .filter((c) => c.action === 'secretsmanager:GetSecretValue')
      .map((c) => c.resource);
    expect(reads).toContain(EXISTING_ARN);
    expect(reads.some((r) => r.includes(ADDED))).toBe(true);
    const events = readFileSync(eventsFile, 'utf8').trim().split('\n');
    expect(events.length).toBeGreaterThan(0);

    const listed = await orgs(['list', '--json']);
    const rows = JSON.parse(listed.stdout) as { organizationGuid: string; lastOutcome?: string }[];
    expect(rows.map((r) => [r.organizationGuid, r.lastOutcome])).toEqual([
      [ADDED, 'success'],
      [REFERENCED, 'success'],
    ]);
  });

  it('remove deletes the schedule, the registry item and only the secret add created', async () => {
    const created = (await registry.get(ADDED))?.credentials;
    expect((await orgs(['remove', ADDED])).code).toBe(0);
    expect((await orgs(['remove', REFERENCED])).code).toBe(0);
    expect(schedule(ADDED)).toBeUndefined();
    expect(schedule(REFERENCED)).toBeUndefined();
    expect(await registry.get(ADDED)).toBeUndefined();
    expect(aws.secrets.map((s) => s.arn)).toEqual([EXISTING_ARN]);
    expect(created?.kind === 'secretsManager' && created.secretArn).toBeTruthy();
    expect(aws.unsupported).toEqual([]);
  });
});
