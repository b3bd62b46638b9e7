/**
 * The IAM-evaluated test's harness: synthesize the app with bundling (as `cdk deploy` would) from a full
 * fixture configuration, find each Lambda function's bundle in cdk.out with its template environment
 * resolved to deterministic fake names and ARNs, and run a bundle in a plain Node.js child process signed
 * with the function's own fake access key against the recording AWS stand-in.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../../infra/build-app.ts';
import { type NutcacheCdcConfigInput, parseConfig } from '../../infra/config.ts';
import { type CfnTemplate, DeployedStack, REGION } from '../support/cfn-template.ts';

const RUNNER = new URL('../infra/fixtures/invoke-bundle.mjs', import.meta.url).pathname;
const RULES_FIXTURE = new URL('./fixtures/sync-rules.yaml', import.meta.url).pathname;

export interface Synthesized {
  readonly stack: DeployedStack;
  readonly outdir: string;
  readonly functions: readonly LambdaFunction[];
}

export interface LambdaFunction {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  readonly roleId: string;
  readonly roleArn: string;
  /** `<file>.<export>` */
  readonly handler: string;
  readonly bundle: string;
  readonly memorySize: number;
  readonly timeoutSeconds: number;
  /** The template's environment variables, intrinsics resolved. */
  readonly environment: Readonly<Record<string, string>>;
  /** The access key id its requests are signed with (how the stand-in tells callers apart). */
  readonly accessKeyId: string;
}

export interface FunctionRun {
  readonly ok: boolean;
  readonly result?: unknown;
  readonly error?: string;
  readonly output: string;
}

/** Writes the fixture rules file with the webhook URL filled in, and synthesizes the app into a temp cdk.out. */
export function synthesizeFixture(
  config: Omit<NutcacheCdcConfigInput, 'syncRulesFile'>,
  webhookUrl: string,
): Synthesized {
  const dir = mkdtempSync(join(tmpdir(), 'nutcache-iam-'));
  const rulesFile = join(dir, 'sync-rules.yaml');
  writeFileSync(rulesFile, readFileSync(RULES_FIXTURE, 'utf8').replaceAll('WEBHOOK_URL', webhookUrl));
  const outdir = join(dir, 'cdk.out');
  const built = buildApp({
    config: parseConfig({ ...config, syncRulesFile: rulesFile }),
    outdir,
    builtinCloudFormationValidation: false,
  });
  const assembly = built.app.synth();
  const stackName = built.stack.stackName;
  const stack = new DeployedStack(assembly.getStackByName(stackName).template as CfnTemplate, stackName);
  return {
    stack,
    outdir,
    functions: lambdaFunctions(stack, join(outdir, `${stackName}.assets.json`), outdir),
  };
}

interface AssetManifest {
  readonly files: Record<
    string,
    { source: { path: string }; destinations: Record<string, { objectKey: string }> }
  >;
}

function lambdaFunctions(stack: DeployedStack, manifestFile: string, outdir: string): LambdaFunction[] {
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as AssetManifest;
  return stack.ofType('AWS::Lambda::Function').map(([logicalId, resource]) => {
    const props = resource.Properties ?? {};
    const s3Key = String((props.Code as { S3Key?: unknown } | undefined)?.S3Key);
    const asset = Object.values(manifest.files).find((file) =>
      Object.values(file.destinations).some((d) => d.objectKey === s3Key),
    );
    if (!asset) throw new Error(`no bundled asset for ${logicalId} (${s3Key})`);
    const handler = String(props.Handler);
    const variables =
      (props.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
    const roleId = stack.referencedId(props.Role);
    return {
      logicalId,
      name: stack.ref(logicalId),
      arn: stack.getAtt(logicalId, 'Arn'),
      roleId,
      roleArn: stack.roleArn(roleId),
      handler,
      bundle: join(outdir, asset.source.path, `${handler.split('.')[0]}.mjs`),
      memorySize: Number(props.MemorySize ?? 128),
      timeoutSeconds: Number(props.Timeout ?? 3),
      environment: Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, stack.resolveString(v)])),
      accessKeyId: `ASIATEST${logicalId.toUpperCase()}`,
    };
  });
}

/** Runs one invocation of a bundled function in a child process, as Lambda would (fresh process, template env). */
export function runFunction(
  fn: LambdaFunction,
  event: unknown,
  aws: { endpoint: string; extraEnv?: Record<string, string> },
): Promise<FunctionRun> {
  // The SQS client sends to the queue URL's host, whatever the endpoint setting: queue URLs point at the stand-in.
  const sqsHost = `https://sqs.${REGION}.amazonaws.com`;
  const environment = Object.fromEntries(
    Object.entries(fn.environment).map(([k, v]) => [k, v.replaceAll(sqsHost, aws.endpoint)]),
  );
  const env = {
    PATH: process.env.PATH ?? '',
    ...environment,
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_LAMBDA_FUNCTION_NAME: fn.name,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memorySize),
    AWS_ACCESS_KEY_ID: fn.accessKeyId,
    AWS_SECRET_ACCESS_KEY: 'local-only-not-a-secret',
    AWS_SESSION_TOKEN: 'local-only-session',
    AWS_ENDPOINT_URL: aws.endpoint,
    ...aws.extraEnv,
  };
  const [, exportName] = fn.handler.split('.');
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [RUNNER, fn.bundle, exportName ?? 'handler', JSON.stringify(event), String(fn.timeoutSeconds * 1000)],
      {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const line = output.split('\n').find((l) => l.startsWith('__RESULT__'));
      if (!line) {
        reject(new Error(`${fn.logicalId} ended (code ${code}) without a result:\n${output.slice(-3000)}`));
        return;
      }
      const outcome = JSON.parse(line.slice('__RESULT__'.length)) as FunctionRun;
      resolve({ ok: outcome.ok, result: outcome.result, error: outcome.error, output });
    });
  });
}

/** A self-signed certificate for 127.0.0.1 (openssl), so a bundled function can POST to an https receiver. */
export function selfSignedCertificate(dir: string): { key: string; cert: string; certFile: string } {
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8'), certFile };
}
