/**
 * `nutcache-cdc orgs` and `poll --all` in local mode, as a user runs them (child processes) against the
 * sandbox on loopback: 30 organizations registered with `orgs add` over two API keys, all polled by one
 * `poll --all`, with broken organizations among them (wrong password, deleted credentials file, an
 * organization the key cannot see, a Nutcache that answers 500) that fail alone.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../sandbox/server.ts';
import { eventBridgeEventSchema } from '../../shared/events/contract.ts';
import { guid } from '../registry/helpers.ts';
import { type CliRun, runCli } from '../support/cli.ts';

const KEY_A = { apiKey: 'key-a-0123456789abcdef', username: 'a@example.com', password: 'pass-a' };
const KEY_B = { apiKey: 'key-b-0123456789abcdef', username: 'b@example.com', password: 'pass-b' };
const HEALTHY = Array.from({ length: 30 }, (_, i) => guid(i + 1).toUpperCase());
const WRONG_PASSWORD = guid(101).toUpperCase();
const NO_CREDENTIALS = guid(102).toUpperCase();
const NOT_VISIBLE = guid(103).toUpperCase();
const FAILING_API = guid(104).toUpperCase();
const PAUSED = guid(105).toUpperCase();

function envOf(key: typeof KEY_A, dir: string): Record<string, string> {
  return {
    HOME: dir,
    NUTCACHE_API_KEY: key.apiKey,
    NUTCACHE_USERNAME: key.username,
    NUTCACHE_PASSWORD: key.password,
  };
}

describe('nutcache-cdc orgs and poll --all in local mode', () => {
  let sandbox: Sandbox;
  let failing: Server;
  let failingUrl: string;
  let dir: string;
  const orgs = (args: string[], env: Record<string, string>): Promise<CliRun> =>
    runCli(['orgs', ...args, '--state-dir', dir], env, 60_000);

  beforeAll(async () => {
    sandbox = await startSandbox({
      credentials: [KEY_A, KEY_B],
      organizationGuids: [...HEALTHY, WRONG_PASSWORD, NO_CREDENTIALS, FAILING_API, PAUSED],
    });
    failing = createServer((_req, res) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{"message":"internal error"}');
    });
    await new Promise<void>((resolve) => failing.listen(0, '127.0.0.1', resolve));
    failingUrl = `http://127.0.0.1:${(failing.address() as AddressInfo).port}/webapi/`;
    dir = mkdtempSync(join(tmpdir(), 'nutcache-cdc-orgs-'));
  });

  afterAll(async () => {
    await sandbox?.close();
    await new Promise<void>((resolve) => failing?.close(() => resolve()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a malformed GUID with exit 64 before creating anything', async () => {
    const run = await orgs(['add', 'not-a-guid'], envOf(KEY_A, dir));
    expect(run.code).toBe(64);
    expect(run.stderr).toContain("'not-a-guid' is not an organization GUID");
    expect(() => statSync(join(dir, 'dynamodb'))).toThrow();
  });

  it('refuses set without a change and an interval out of range with exit 64', async () => {
    const set = await orgs(['set', HEALTHY[0] ?? ''], {});
    expect(set.code).toBe(64);
    expect(set.stderr).toContain('give --every, --label or --api-key-group');
    const every = await orgs(['add', HEALTHY[0] ?? '', '--every', '0'], envOf(KEY_A, dir));
    expect(every.code).toBe(64);
    expect(every.stderr).toContain('--every must be a whole number of minutes from 1 to 1440');
  });

  it('registers 30 organizations with orgs add, credentials only from the environment, files 0600', async () => {
    for (const [i, org] of HEALTHY.entries()) {
      const key = i < 20 ? KEY_A : KEY_B;
      const run = await orgs(
        ['add', org.toLowerCase(), '--label', `Org ${i + 1}`, '--base-url', sandbox.url],
        envOf(key, dir),
      );
      expect(run.code, run.stderr).toBe(0);
    }
    const file = join(dir, 'credentials', `${HEALTHY[0]}.json`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'credentials')).mode & 0o777).toBe(0o700);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ ...KEY_A, organizationGuid: HEALTHY[0] });

    const again = await orgs(['add', HEALTHY[0] ?? ''], envOf(KEY_A, dir));
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already registered');
  }, 600_000);

  it('registers the broken organizations and a paused one; set, pause and resume change the registry', async () => {
    const bad = { ...KEY_A, password: 'wrong' };
    const adds: [string, Record<string, string>, string[]][] = [
      [WRONG_PASSWORD, envOf(bad, dir), ['--base-url', sandbox.url]],
      [NO_CREDENTIALS, envOf(KEY_A, dir), ['--base-url', sandbox.url]],
      [NOT_VISIBLE, envOf(KEY_B, dir), ['--base-url', sandbox.url]],
      [FAILING_API, envOf(KEY_A, dir), ['--base-url', failingUrl, '--api-key-group', 'failing-api']],
      [PAUSED, envOf(KEY_A, dir), ['--base-url', sandbox.url]],
    ];
    for (const [org, env, extra] of adds) expect((await orgs(['add', org, ...extra], env)).code).toBe(0);
    rmSync(join(dir, 'credentials', `${NO_CREDENTIALS}.json`));
    expect((await orgs(['pause', PAUSED], envOf(KEY_A, dir))).code).toBe(0);
    expect((await orgs(['set', HEALTHY[1] ?? '', '--every', '5', '--label', 'Renamed'], {})).code).toBe(0);

    const listed = await orgs(['list', '--json'], {});
    expect(listed.code).toBe(0);
    const rows = JSON.parse(listed.stdout) as {
      organizationGuid: string;
      state: string;
      everyMinutes: number;
      label?: string;
      apiKeyGroup: string;
    }[];
    expect(rows).toHaveLength(35);
    const byGuid = new Map(rows.map((r) => [r.organizationGuid, r]));
    expect(byGuid.get(PAUSED)?.state).toBe('paused');
    expect(byGuid.get(HEALTHY[1] ?? '')).toMatchObject({ everyMinutes: 5, label: 'Renamed' });
    // Organizations sharing a key share a group by default.
    expect(new Set(HEALTHY.slice(0, 20).map((g) => byGuid.get(g)?.apiKeyGroup)).size).toBe(1);
    expect(byGuid.get(HEALTHY[25] ?? '')?.apiKeyGroup).not.toBe(byGuid.get(HEALTHY[0] ?? '')?.apiKeyGroup);
  }, 300_000);

  it('polls every active organization once; the broken ones fail alone, each named on one line', async () => {
    const eventsFile = join(dir, 'events.jsonl');
    sandbox.organization(HEALTHY[29] ?? '').create({ name: 'Only customer of org 30' });
    sandbox.resetStats();
    const run = await runCli(['poll', '--all', '--state-dir', dir, '--events-file', eventsFile], {}, 180_000);
    expect(run.code, run.stderr).toBe(1);
    const lines = run.stderr.split('\n');
    for (const org of HEALTHY)
      expect(
        lines.some((l) => l.startsWith(`${org} success`)),
        org,
      ).toBe(true);
    for (const org of [WRONG_PASSWORD, NO_CREDENTIALS, NOT_VISIBLE]) {
      expect(
        lines.filter((l) => l.startsWith(`${org} failed`)),
        org,
      ).toHaveLength(1);
    }
    // 500s after the client's retries: incomplete, like a single poll (the next poll finishes it).
    expect(lines.filter((l) => l.startsWith(`${FAILING_API} partial`))).toHaveLength(1);
    expect(lines.find((l) => l.startsWith(NO_CREDENTIALS))).toContain('could not be read');
    expect(run.stderr).not.toContain(PAUSED);
    expect(run.stderr).toContain('poll --all: 34 organizations polled, 30 succeeded, 3 failed');

    const events = readFileSync(eventsFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => eventBridgeEventSchema.parse(JSON.parse(l)));
    const orgsWithEvents = new Set(
      events.map((e) => (e.detail as { organizationGuid: string }).organizationGuid.toUpperCase()),
    );
    expect(orgsWithEvents).toEqual(new Set([HEALTHY[0], HEALTHY[29]]));
    expect(sandbox.stats.rateLimitViolations).toBe(0);

    const listed = JSON.parse((await orgs(['list', '--json'], {})).stdout) as {
      organizationGuid: string;
      lastOutcome?: string;
      budgetUsedToday?: number;
    }[];
    const first = listed.find((r) => r.organizationGuid === HEALTHY[0]);
    expect(first?.lastOutcome).toBe('success');
    expect(first?.budgetUsedToday).toBeGreaterThan(0);
  }, 300_000);

  it('removes an organization and its credentials file; it is not polled again', async () => {
    const org = HEALTHY[2] ?? '';
    expect((await orgs(['remove', org], {})).code).toBe(0);
    expect(() => statSync(join(dir, 'credentials', `${org}.json`))).toThrow();
    const listed = JSON.parse((await orgs(['list', '--json'], {})).stdout) as { organizationGuid: string }[];
    expect(listed.map((r) => r.organizationGuid)).not.toContain(org);
    const gone = await orgs(['pause', org], {});
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('is not registered');
  }, 120_000);
});
