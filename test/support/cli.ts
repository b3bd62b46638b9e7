/** Runs the `nutcache-cdc` CLI as a user does (node bin/nutcache-cdc.mjs, a child process). */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI to completion (killed after `timeoutMs`) with exactly the environment given (plus PATH). */
export function runCli(
  args: readonly string[],
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<CliRun> {
  return runNode(['bin/nutcache-cdc.mjs', ...args], env, timeoutMs);
}

/** Runs `node <nodeArgs>` from the repository root the same way (e.g. the CDK app entry). */
export function runNode(
  nodeArgs: readonly string[],
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, nodeArgs, {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString('utf8');
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString('utf8');
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node ${nodeArgs.join(' ')} did not finish in ${timeoutMs} ms:\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

interface SandboxLogin {
  readonly organizationGuid: string;
  readonly credentials: { readonly apiKey: string; readonly username: string; readonly password: string };
}

/** The NUTCACHE_* environment a CLI run needs to poll the sandbox. */
export function credentialsOf(sandbox: SandboxLogin): Record<string, string> {
  return {
    NUTCACHE_API_KEY: sandbox.credentials.apiKey,
    NUTCACHE_USERNAME: sandbox.credentials.username,
    NUTCACHE_PASSWORD: sandbox.credentials.password,
    NUTCACHE_ORGANIZATION_GUID: sandbox.organizationGuid,
  };
}

/** The environment of a user whose Nutcache credentials are the sandbox's, with `home` as HOME. */
export function sandboxCliEnv(sandbox: SandboxLogin, home: string): Record<string, string> {
  return { HOME: home, ...credentialsOf(sandbox) };
}
