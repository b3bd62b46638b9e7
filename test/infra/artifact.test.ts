/**
 * The deployable artifact works: synthesise the app as `cdk deploy` would (real esbuild bundling of
 * functions/poller.ts), take the bundled poller out of cdk.out, and run it in a plain Node.js child process
 * with exactly the environment the template gives the function, pointed at loopback stand-ins (dynalite,
 * the sandbox Nutcache API, a fake EventBridge / Secrets Manager / SQS endpoint). A first poll of the
 * sandbox organization, registered in the registry and asked for by a poll-queue message as its schedule
 * sends it, must publish one Customer Snapshot event per seed customer.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/build-app.ts';
import { ESM_REQUIRE_BANNER } from '../../infra/constructs/nutcache-function.ts';
import { POLLER_SERVICE_NAME } from '../../infra/constructs/poller-metrics.ts';
import {
  DEFAULT_ORGANIZATION_GUID,
  DEMO_CREDENTIALS,
  type Sandbox,
  startSandbox,
} from '../../sandbox/index.ts';
import { ENV } from '../../shared/config/env.ts';
import { customerChangeDetailSchema, DETAIL_TYPES } from '../../shared/events/contract.ts';
import { DynamoOrganizationRegistry } from '../../shared/registry/dynamodb.ts';
import { createTable } from '../../shared/store/create-table.ts';
import { createDocumentClient } from '../../shared/store/dynamodb.ts';
import { type LocalDynamo, startLocalDynamo } from '../../shared/store/local-dynamo.ts';
import { type FakeAws, startFakeAws } from './fixtures/fake-aws.ts';
import { resolveIntrinsics } from './fixtures/intrinsics.ts';
import { configWith } from './fixtures/synth.ts';

type Json = Record<string, unknown>;
interface Resource {
  readonly Type: string;
  readonly Properties?: Json;
}
interface InvokeOutcome {
  readonly ok: boolean;
  readonly result?: Json;
  readonly error?: string;
  readonly importMs: number;
  readonly invokeMs: number;
}

const RUNNER = new URL('./fixtures/invoke-bundle.mjs', import.meta.url).pathname;
const TABLE_NAME = 'nutcache-cdc-artifact-test';
/** The organization's secret, named by the convention the poller's role is granted (organization-credentials.ts). */
const SECRET_ARN = `arn:aws:secretsmanager:us-east-1:000000000000:secret:nutcache-cdc/test/organizations/${DEFAULT_ORGANIZATION_GUID}-AbCdEf`;

/** The poll-queue message an organization's schedule sends (shared/registry/schedules.ts), as Lambda hands it over. */
function pollQueueEvent(organizationGuid: string): Json {
  const body = JSON.stringify({ organizationGuid, scheduledTime: '2026-11-29T10:00:00Z' });
  return {
    Records: [{ messageId: 'm-1', receiptHandle: 'r-1', body, eventSource: 'aws:sqs', attributes: {} }],
  };
}

/** The organization as `orgs add` or the registrar registers it. */
async function register(dynamo: LocalDynamo): Promise<void> {
  const registry = new DynamoOrganizationRegistry({
    client: createDocumentClient(dynamo.client),
    tableName: TABLE_NAME,
  });
  const now = new Date().toISOString();
  await registry.add({
    organizationGuid: DEFAULT_ORGANIZATION_GUID,
    credentials: { kind: 'secretsManager', secretArn: SECRET_ARN },
    everyMinutes: 15,
    apiKeyGroup: 'sandbox-key',
    state: 'active',
    createdAt: now,
    updatedAt: now,
    managedBy: 'config',
  });
}

function runBundle(bundle: string, exportName: string, event: unknown, env: Record<string, string>) {
  return new Promise<{ outcome: InvokeOutcome; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [RUNNER, bundle, exportName, JSON.stringify(event), '60000'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith('__RESULT__'));
      if (!line) {
        reject(new Error(`bundle run ended (code ${code}) without a result:\n${stderr.slice(-4000)}`));
        return;
      }
      resolve({ outcome: JSON.parse(line.slice('__RESULT__'.length)) as InvokeOutcome, stdout, stderr });
    });
  });
}

describe('the bundled poller in cdk.out', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'nutcache-cdk-out-'));
  let resources: Record<string, Resource>;
  let functionProps: Json;
  let bundle: string;
  let synthMs: number;
  let sandbox: Sandbox;
  let dynamo: LocalDynamo;
  let fake: FakeAws;
  let run: Awaited<ReturnType<typeof runBundle>>;
  let environment: Record<string, string>;

  beforeAll(async () => {
    // Synthesise exactly like `cdk synth`, with the real poller entry (functions/poller.ts).
    const started = performance.now();
    const built = buildApp({
      config: configWith({ organizations: [{ organizationGuid: DEFAULT_ORGANIZATION_GUID }] }),
      outdir,
      builtinCloudFormationValidation: false,
    });
    const assembly = built.app.synth();
    synthMs = performance.now() - started;
    const template = assembly.getStackByName(built.stack.stackName).template as {
      Resources: Record<string, Resource>;
    };
    resources = template.Resources;
    const fn = Object.entries(resources).find(
      ([id, r]) => r.Type === 'AWS::Lambda::Function' && id.startsWith('Poller'),
    );
    functionProps = fn?.[1].Properties ?? {};

    // The asset manifest maps the template's S3 key to the staged bundle directory.
    const s3Key = (functionProps.Code as Json).S3Key as string;
    const manifest = JSON.parse(
      readFileSync(join(outdir, `${built.stack.stackName}.assets.json`), 'utf8'),
    ) as {
      files: Record<
        string,
        { source: { path: string }; destinations: Record<string, { objectKey: string }> }
      >;
    };
    const asset = Object.values(manifest.files).find((file) =>
      Object.values(file.destinations).some((d) => d.objectKey === s3Key),
    );
    if (!asset) throw new Error(`no asset for ${s3Key}`);
    const [file] = String(functionProps.Handler).split('.');
    bundle = join(outdir, asset.source.path, `${file}.mjs`);

    // Loopback stand-ins.
    sandbox = await startSandbox({});
    dynamo = await startLocalDynamo();
    await createTable(dynamo.client, TABLE_NAME);
    await register(dynamo);
    // Filled below, once the organizations are known; the fake must run first: the SQS client sends to
    // the queue URL's own host, so queue URLs name the fake.
    const secrets = new Map<string, string>();
    fake = await startFakeAws({ secrets });
    const queueUrlPrefix = `${fake.endpoint}/000000000000/`;
    const physical = new Map<string, string>();
    for (const [id, resource] of Object.entries(resources)) {
      if (resource.Type === 'AWS::DynamoDB::Table') physical.set(id, TABLE_NAME);
      if (resource.Type === 'AWS::Events::EventBus') physical.set(id, String(resource.Properties?.Name));
      if (resource.Type === 'AWS::SQS::Queue') physical.set(id, `${queueUrlPrefix}${id}`);
      if (resource.Type === 'AWS::SecretsManager::Secret') {
        physical.set(id, `arn:aws:secretsmanager:us-east-1:000000000000:secret:${id}-AbCdEf`);
      }
    }
    const ref = (id: string) => {
      const value = physical.get(id);
      if (value === undefined) throw new Error(`no stand-in for ${id}`);
      return value;
    };
    const variables = (functionProps.Environment as { Variables: Json }).Variables;
    const templateEnv = Object.fromEntries(
      Object.entries(variables).map(([name, value]) => [name, resolveIntrinsics(value, ref)]),
    );
    secrets.set(
      SECRET_ARN,
      JSON.stringify({
        ...DEMO_CREDENTIALS,
        organizationGuid: DEFAULT_ORGANIZATION_GUID,
        baseUrl: sandbox.url,
      }),
    );
    environment = {
      PATH: process.env.PATH ?? '',
      ...templateEnv,
      AWS_REGION: 'us-east-1',
      AWS_LAMBDA_FUNCTION_NAME: 'poller',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(functionProps.MemorySize),
      // Fixed fake credentials: the stand-ins check no signature.
      AWS_ACCESS_KEY_ID: 'AKIDLOCALONLY',
      AWS_SECRET_ACCESS_KEY: 'local-only',
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_EVENTBRIDGE: fake.endpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: fake.endpoint,
      AWS_ENDPOINT_URL_SQS: fake.endpoint,
    };
    run = await runBundle(
      bundle,
      String(functionProps.Handler).split('.')[1] ?? 'handler',
      pollQueueEvent(DEFAULT_ORGANIZATION_GUID),
      environment,
    );

    const size = statSync(bundle).size;
    console.log(
      `[artifact] synth ${Math.round(synthMs)} ms; bundle ${(size / 1024).toFixed(1)} KiB (${bundle.split('/').slice(-2).join('/')}), ` +
        `map ${(statSync(`${bundle}.map`).size / 1024).toFixed(1)} KiB; cold import ${run.outcome.importMs.toFixed(0)} ms; ` +
        `first poll ${run.outcome.invokeMs.toFixed(0)} ms`,
    );
  }, 180_000);

  afterAll(async () => {
    await fake?.close();
    await dynamo?.close();
    await sandbox?.close();
    rmSync(outdir, { recursive: true, force: true });
  });

  it('is a minified ESM bundle with a source map, importable with no node_modules around it', () => {
    const code = readFileSync(bundle, 'utf8');
    expect(code.startsWith(ESM_REQUIRE_BANNER)).toBe(true);
    expect(code).toMatch(/\/\/# sourceMappingURL=index\.mjs\.map\s*$/);
    // Minified: long lines (an unminified bundle of this size averages well under 100 characters a line).
    expect(code.length / code.split('\n').length).toBeGreaterThan(2000);
    expect(environment.NODE_OPTIONS).toBe('--enable-source-maps --max-old-space-size=256');
  });

  it('answers the poll-queue message with a successful poll (no batch item failure)', () => {
    expect(run.outcome.error).toBeUndefined();
    expect(run.outcome.ok).toBe(true);
    expect(run.outcome.result).toEqual({ batchItemFailures: [] });
    expect(run.stdout).toContain('"PollSucceeded"');
  });

  it('reads the organization credentials from the secret the registry names', () => {
    expect(fake.calls).toContain('secretsmanager.GetSecretValue');
    expect(run.stdout + run.stderr).not.toContain(DEMO_CREDENTIALS.password);
  });

  it("publishes one Customer Snapshot per seed customer to the template's bus, valid against the contract", () => {
    const snapshots = fake.events.filter((e) => e.DetailType === DETAIL_TYPES.snapshot);
    expect(snapshots).toHaveLength(8);
    expect(fake.events).toHaveLength(8);
    const ids = snapshots.map((e) => {
      expect(e.EventBusName).toBe(environment[ENV.eventBusName]);
      expect(e.Source).toBe(environment[ENV.eventSource]);
      const detail = customerChangeDetailSchema.parse(JSON.parse(String(e.Detail)));
      expect(detail.organizationGuid.toUpperCase()).toBe(DEFAULT_ORGANIZATION_GUID);
      return detail.customerId;
    });
    expect(ids.sort()).toEqual(
      sandbox
        .list()
        .map((c) => c.id)
        .sort(),
    );
    // Nothing went to the dead-letter queue, whose URL names the fake (so a message would be recorded).
    expect(environment[ENV.deadLetterQueueUrl]?.startsWith(fake.endpoint)).toBe(true);
    expect(fake.messages).toEqual([]);
  });

  it('emits the metrics the alarms watch, under the dimensions they query', () => {
    const emf = run.stdout
      .split('\n')
      .filter((line) => line.startsWith('{') && line.includes('"_aws"'))
      .map(
        (line) =>
          JSON.parse(line) as Json & {
            _aws: {
              CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[];
            };
          },
      );
    const directives = emf.flatMap((record) => record._aws.CloudWatchMetrics.map((d) => ({ record, d })));
    const withPollSucceeded = directives.find(({ d }) => d.Metrics.some((m) => m.Name === 'PollSucceeded'));
    expect(withPollSucceeded).toBeDefined();
    expect(withPollSucceeded?.d.Namespace).toBe(environment.POWERTOOLS_METRICS_NAMESPACE);
    expect(withPollSucceeded?.d.Dimensions).toContainEqual(
      expect.arrayContaining(['service', 'organizationGuid']),
    );
    expect(withPollSucceeded?.record.service).toBe(`${POLLER_SERVICE_NAME}-test`);
    expect(withPollSucceeded?.record.organizationGuid).toBe(DEFAULT_ORGANIZATION_GUID);
  });
});
