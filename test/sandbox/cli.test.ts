import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_CREDENTIALS } from '../../sandbox/server.ts';
import { runCli, sandboxCliEnv } from '../support/cli.ts';

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

  it("prints the CRM stand-in's URLs and tokens, and the stand-in accepts exactly those", async () => {
    const cli = startCli(['--port', '0', '--quiet']);
    running = cli.child;
    await waitFor(() => cli.output().includes('Press Ctrl+C'));
    const out = cli.output();
    const hubspot = /HubSpot baseUrl:\s+(http:\/\/127\.0\.0\.1:\d+\/hubspot)\s+token: (\S+)/.exec(out);
    const salesforce =
      /Salesforce instanceUrl:\s+(http:\/\/127\.0\.0\.1:\d+\/salesforce)\s+token: (\S+)/.exec(out);
    expect(hubspot).not.toBeNull();
    expect(salesforce).not.toBeNull();
    expect(out).toContain(`export HUBSPOT_TOKEN='${hubspot?.[2]}'`);
    expect(out).toContain(`export SALESFORCE_ACCESS_TOKEN='${salesforce?.[2]}'`);
    expect(out).toContain('poll --rules');

    const upsert = (token: string) =>
      fetch(`${hubspot?.[1]}/crm/v3/objects/companies/batch/upsert`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          inputs: [{ idProperty: 'nutcache_id', id: '1', properties: { name: 'Acme' } }],
        }),
      });
    expect((await upsert(hubspot?.[2] ?? '')).status).toBe(200);
    expect((await upsert('wrong')).status).toBe(401);
    const patch = await fetch(`${salesforce?.[1]}/services/data/v62.0/sobjects/Account/Nutcache_Id__c/1`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${salesforce?.[2]}`, 'content-type': 'application/json' },
      body: JSON.stringify({ Name: 'Acme' }),
    });
    expect(patch.status).toBe(201);
  });

  it('refuses a malformed option with exit code 64', async () => {
    const cli = startCli(['--generated', 'many']);
    running = cli.child;
    expect(await cli.exited).toBe(64);
    expect(cli.output()).toContain('--generated must be a whole number');
  });

  it('says to use --port 0 when the port is taken, in one line, exit 1', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const cli = startCli(['--port', String(port)]);
      running = cli.child;
      expect(await cli.exited).toBe(1);
      expect(cli.output().trim().split('\n')).toEqual([
        `nutcache-cdc sandbox: port ${port} on 127.0.0.1 is already in use; use --port 0 for a free port, or another --port`,
      ]);
    } finally {
      blocker.close();
    }
  });

  it('admin endpoint: changes made with HTTP show up as Updated, Deleted and Created events of a poll', async () => {
    const cli = startCli(['--port', '0', '--no-rate-limit', '--quiet']);
    running = cli.child;
    await waitFor(() => cli.output().includes('Press Ctrl+C'));
    const url = /listening at (http:\/\/127\.0\.0\.1:\d+\/webapi\/)/.exec(cli.output())?.[1] ?? '';
    const admin = url.replace(/webapi\/$/, 'admin/');
    expect(cli.output()).toContain(`curl -X PATCH -d '{"email":"new@acme.test"}' ${admin}customers/`);
    const dir = mkdtempSync(join(tmpdir(), 'sandbox-admin-'));
    const env = sandboxCliEnv(
      { organizationGuid: '846E176E-7C4B-4BFD-A894-C98F2988927E', credentials: DEMO_CREDENTIALS },
      dir,
    );
    const poll = () => runCli(['poll', '--base-url', url, '--state-dir', dir], env, 60_000);
    const call = (method: string, path: string, body?: unknown) =>
      fetch(`${admin}${path}`, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const changeTypes = (stdout: string) =>
      stdout
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => {
          const { detail } = JSON.parse(line) as { detail: { changeType: string; customerId: number } };
          return `${detail.changeType} ${detail.customerId}`;
        })
        .sort();
    try {
      expect((await poll()).code).toBe(0);
      const listed = (await (await call('GET', 'customers')).json()) as { customers: { id: number }[] };
      const [first, second] = listed.customers.map((c) => c.id);
      expect((await call('PATCH', `customers/${first}`, { email: 'new@acme.test' })).status).toBe(200);
      expect((await call('DELETE', `customers/${second}`)).status).toBe(204);
      const created = await call('POST', 'customers', { name: 'Tyrell Group' });
      expect(created.status).toBe(201);
      const { id } = (await created.json()) as { id: number };
      const changed = await poll();
      expect(changed.code, changed.stderr).toBe(0);
      expect(changeTypes(changed.stdout)).toEqual([`created ${id}`, `deleted ${second}`, `updated ${first}`]);

      // Switching the key casing changes no customer; a fault makes the next poll fail until withdrawn.
      expect((await call('PUT', 'key-casing', { casing: 'upper' })).status).toBe(200);
      const recased = await poll();
      expect([recased.code, recased.stdout]).toEqual([0, '']);
      const fault = { kind: 'status', status: 503, path: 'customers', times: 'always' };
      expect((await call('POST', 'faults', fault)).status).toBe(201);
      expect((await poll()).code).not.toBe(0);
      expect((await call('DELETE', 'faults')).status).toBe(204);
      expect((await poll()).code).toBe(0);

      const refused = await call('PATCH', `customers/${first}`, ['not', 'an', 'object']);
      expect(refused.status).toBe(400);
      expect((await call('DELETE', 'customers/999999')).status).toBe(404);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('--simulate edits the customers now and then, printing each change', async () => {
    const cli = startCli(['--port', '0', '--quiet', '--simulate', '--interval', '1', '--seed', '3']);
    running = cli.child;
    await waitFor(() => (cli.output().match(/^simulator: /gm) ?? []).length >= 2);
    expect(cli.output()).toMatch(
      /simulator: (created customer|set status|changed e-mail|moved customer|deleted customer|switched the API's key casing)/,
    );
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
  });
});
