import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

function startCli(args: string[]): {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
} {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'sandbox', ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString('utf8');
  });
  child.stderr?.on('data', (c: Buffer) => {
    out += c.toString('utf8');
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

async function waitFor(predicate: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error('timed out waiting for the CLI');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('nutcache-cdc sandbox (CLI)', () => {
  let running: ChildProcess | undefined;
  afterEach(() => {
    if (running && running.exitCode === null) running.kill('SIGKILL');
    running = undefined;
  });

  it('prints the base URL, demo credentials and env lines, serves, and stops cleanly on SIGTERM', async () => {
    const cli = startCli(['--port', '0', '--generated', '12', '--seed', '4', '--no-rate-limit']);
    running = cli.child;
    await waitFor(() => cli.output().includes('Press Ctrl+C'));
    const out = cli.output();
    const url = /listening at (http:\/\/127\.0\.0\.1:\d+\/webapi\/)/.exec(out)?.[1];
    expect(url).toBeDefined();
    for (const name of [
      'NUTCACHE_API_KEY',
      'NUTCACHE_USERNAME',
      'NUTCACHE_PASSWORD',
      'NUTCACHE_ORGANIZATION_GUID',
      '--base-url',
      'curl',
    ]) {
      expect(out).toContain(name);
    }
    expect(out).toContain('20 (8 documented + 12 generated, seed 4)');

    const basic = /Authorization: (nut-basic [A-Za-z0-9+/=]+)/.exec(out)?.[1] ?? '';
    const res = await fetch(`${url}customers?limit=100`, {
      headers: {
        authorization: basic,
        'api-version': '3',
        organizationguid: '846E176E-7C4B-4BFD-A894-C98F2988927E',
      },
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { customers: unknown[] }).customers).toHaveLength(20);
    await waitFor(() => cli.output().includes('GET customers?limit=100 -> 200'));

    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
    expect(cli.output()).toContain('Sandbox stopped.');
  });

  it('refuses a malformed option with exit code 64', async () => {
    const cli = startCli(['--generated', 'many']);
    running = cli.child;
    expect(await cli.exited).toBe(64);
    expect(cli.output()).toContain('--generated must be a whole number');
  });
});
