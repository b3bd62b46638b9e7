/** `nutcache-cdc status` shows what the store knows after polls, without calling Nutcache. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../sandbox/server.ts';
import { credentialsOf, runCli } from '../support/cli.ts';

describe('nutcache-cdc status', () => {
  let sandbox: Sandbox;
  let dir: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    sandbox = await startSandbox({ rateLimit: null });
    dir = mkdtempSync(join(tmpdir(), 'nutcache-status-'));
    env = {
      ...credentialsOf(sandbox),
    };
  });
  afterAll(async () => {
    await sandbox.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('says an organization was never polled, then shows its state and its polls newest first', async () => {
    const before = await runCli(['status', '--state-dir', dir], env);
    expect(before.code, before.stderr).toBe(0);
    expect(before.stdout).toMatch(/never polled/);

    const poll = [
      'poll',
      '--base-url',
      sandbox.url,
      '--state-dir',
      dir,
      '--events-file',
      join(dir, 'events.jsonl'),
    ];
    expect((await runCli(poll, env)).code).toBe(0);
    sandbox.update(143222, { name: 'Renamed' });
    expect((await runCli(poll, env)).code).toBe(0);
    const requestsBefore = sandbox.stats.requests;

    const status = await runCli(['status', '--state-dir', dir, '--json'], env);
    expect(status.code, status.stderr).toBe(0);
    const shown = JSON.parse(status.stdout) as {
      state: { initialized: boolean; lastPages: number };
      runs: { outcome: string; counts: Record<string, number> }[];
    };
    expect(shown.state).toMatchObject({ initialized: true, lastPages: 1 });
    expect(shown.runs.map((r) => [r.outcome, r.counts.snapshot, r.counts.updated])).toEqual([
      ['success', 0, 1],
      ['success', 8, 0],
    ]);
    expect(sandbox.stats.requests).toBe(requestsBefore);
  }, 60_000);
});
