/**
 * `poll --all` grades each organization as `nutcache-cdc poll` does: a poll whose deletions the
 * mass-deletion guard held is `held`, exit 4 (not success, not failure), through the real CLI process.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../sandbox/server.ts';
import { credentialsOf, runCli } from '../support/cli.ts';

describe('poll --all with held deletions', () => {
  let sandbox: Sandbox;
  let dir: string;
  let env: Record<string, string>;
  const cli = (...args: string[]) => runCli([...args, '--state-dir', join(dir, 'state')], env, 60_000);

  beforeAll(async () => {
    sandbox = await startSandbox({ rateLimit: null, generated: 12 });
    dir = mkdtempSync(join(tmpdir(), 'nutcache-cdc-all-held-'));
    env = { HOME: dir, ...credentialsOf(sandbox) };
  });

  afterAll(async () => {
    await sandbox?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('exits 4 when the guard holds an organization’s deletions', async () => {
    const added = await cli('orgs', 'add', sandbox.organizationGuid, '--base-url', sandbox.url);
    expect(added.code, added.stderr).toBe(0);
    const events = ['--events-file', join(dir, 'events.jsonl')];
    const first = await cli('poll', '--all', ...events);
    expect(first.code, first.stderr).toBe(0);

    for (const customer of sandbox.list().slice(0, 8)) sandbox.remove(customer.id);
    const held = await cli('poll', '--all', ...events);
    expect(held.code, held.stderr).toBe(4);
    expect(held.stderr).toMatch(/held/);
  });
});
