/**
 * `nutcache-cdc poll --json`, run as a user runs it (a child process) against the sandbox: one JSON object
 * per poll on stdout with what the summary line says (outcome, counts, requests, duration, diagnosis, exit
 * status), and refused as a usage error while the events themselves would go to stdout.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../sandbox/server.ts';
import { runCli } from '../support/cli.ts';
import { credentialsOf } from './helpers.ts';

describe('nutcache-cdc poll --json', () => {
  let sandbox: Sandbox;
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    sandbox = await startSandbox({ rateLimit: null });
    dir = mkdtempSync(join(tmpdir(), 'nutcache-cdc-json-'));
    env = { HOME: dir, ...credentialsOf(sandbox) };
  });

  afterAll(async () => {
    await sandbox?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const poll = (name: string, extraEnv: Record<string, string> = {}) =>
    runCli(
      [
        'poll',
        '--json',
        '--base-url',
        sandbox.url,
        '--state-dir',
        join(dir, name),
        '--events-file',
        join(dir, `${name}.jsonl`),
      ],
      { ...env, ...extraEnv },
    );

  it('prints the result of a poll as one JSON object on stdout, the events going to --events-file', async () => {
    const run = await poll('ok');
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const result = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
    expect(result).toMatchObject({
      outcome: 'success',
      organizationGuid: sandbox.organizationGuid,
      counts: { created: 0, updated: 0, deleted: 0, snapshot: 8, unchanged: 0 },
      nutcacheRequests: expect.any(Number),
      durationMs: expect.any(Number),
      exitStatus: 0,
    });
    expect(result.pollId).toMatch(/\S/);
    expect(result.nutcacheRequests).toBeGreaterThan(0);
    expect(result).not.toHaveProperty('diagnosis');
    expect(readFileSync(join(dir, 'ok.jsonl'), 'utf8').trim().split('\n')).toHaveLength(8);
  });

  it('a failed poll: its error, diagnosis, hint and exit status, and no credential', async () => {
    const run = await poll('wrong-key', { NUTCACHE_API_KEY: 'not-the-key' });
    expect(run.code, run.stderr).toBe(1);
    const result = JSON.parse(run.stdout.trim()) as Record<string, unknown>;
    expect(result).toMatchObject({
      outcome: 'failed',
      exitStatus: 1,
      error: expect.any(String),
      diagnosis: {
        reason: expect.stringMatching(/^Nutcache rejected the credentials with HTTP 401/),
        hint: expect.stringMatching(/NUTCACHE_API_KEY/),
      },
    });
    expect(run.stdout).not.toContain('not-the-key');
  });

  it('is a usage error (64) naming --events-file while events go to stdout, before anything is contacted', async () => {
    const requests = sandbox.stats.requests;
    for (const extra of [[], ['--events-file', '-'], ['--events-file', join(dir, 'p.jsonl'), '--pretty']]) {
      const run = await runCli(['poll', '--json', '--base-url', sandbox.url, ...extra], env);
      expect(run.code, run.stderr).toBe(64);
      expect(run.stderr.split('\n')[0]).toMatch(/--json.*--events-file/);
      expect(run.stdout).toBe('');
    }
    expect(sandbox.stats.requests).toBe(requests);
  });

  it('is documented in `poll --help`', async () => {
    const run = await runCli(['poll', '--help'], {});
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/--json\s+print each poll's result as one JSON object/);
  });
});
