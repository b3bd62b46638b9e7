/**
 * `nutcache-cdc orgs list` names the stale organizations, by the same rule as the poller's
 * `Organization Stale` event: no successful poll for 3 of its intervals. Real CLI processes in local mode;
 * the last success is set in the state directory's table between two runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../cli/lib/runtime.ts';
import { type Sandbox, startSandbox } from '../../sandbox/server.ts';
import { guid } from '../registry/helpers.ts';
import { type CliRun, runCli } from '../support/cli.ts';

const KEY = { apiKey: 'key-s-0123456789abcdef', username: 's@example.com', password: 'pass-s' };
const STALE = guid(201).toUpperCase();
const AT_THRESHOLD = guid(202).toUpperCase();
const FRESH = guid(203).toUpperCase();

describe('nutcache-cdc orgs list names stale organizations', () => {
  let sandbox: Sandbox;
  let dir: string;
  const orgs = (args: string[]): Promise<CliRun> =>
    runCli(['orgs', ...args, '--state-dir', dir], {
      HOME: dir,
      NUTCACHE_API_KEY: KEY.apiKey,
      NUTCACHE_USERNAME: KEY.username,
      NUTCACHE_PASSWORD: KEY.password,
    });

  beforeAll(async () => {
    sandbox = await startSandbox({ credentials: [KEY], organizationGuids: [STALE, AT_THRESHOLD, FRESH] });
    dir = mkdtempSync(join(tmpdir(), 'nutcache-cdc-orgs-stale-'));
  });

  afterAll(async () => {
    await sandbox?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('marks and names those without a success for 3 intervals, from the 3rd interval on', async () => {
    for (const [org, label] of [
      [STALE, 'Acme'],
      [AT_THRESHOLD, 'Borderline'],
      [FRESH, 'Fresh'],
    ] as const) {
      const added = await orgs(['add', org, '--label', label, '--every', '15', '--base-url', sandbox.url]);
      expect(added.code, added.stderr).toBe(0);
    }
    const opened = await openStore({ stateDir: dir });
    try {
      const ago = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();
      await opened.store.updateOrgState(STALE, { lastSuccessAt: ago(120) });
      // 45 minutes and a few seconds: 3 intervals of 15 minutes, as the poller counts them.
      await opened.store.updateOrgState(AT_THRESHOLD, { lastSuccessAt: ago(45.1) });
      await opened.store.updateOrgState(FRESH, { lastSuccessAt: ago(1) });
    } finally {
      await opened.close();
    }

    const listed = await orgs(['list']);
    expect(listed.code, listed.stderr).toBe(0);
    const rowOf = (org: string) => listed.stdout.split('\n').find((l) => l.startsWith(org)) ?? '';
    expect(rowOf(STALE)).toMatch(/STALE 120 min/);
    expect(rowOf(AT_THRESHOLD)).toMatch(/STALE 45 min/);
    expect(rowOf(FRESH)).not.toContain('STALE');
    expect(listed.stderr).toContain(
      `2 of 3 organizations are stale (no successful poll for 3 of their intervals): Acme (${STALE}), Borderline (${AT_THRESHOLD})`,
    );
  }, 120_000);
});
