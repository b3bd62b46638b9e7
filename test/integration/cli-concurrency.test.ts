/**
 * Two `nutcache-cdc` processes on one local store (`--state-dir`): `status` works while a `poll --watch`
 * runs, a second poll of the organization gets the busy answer (exit 75), Ctrl-C stops a poll at a safe
 * point (exit 130), and a poll killed outright leaves no lease that blocks the next one.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_TABLE_NAME } from '../../cli/lib/runtime.ts';
import { type Sandbox, startSandbox } from '../../sandbox/server.ts';
import { createTable } from '../../shared/store/create-table.ts';
import { createDocumentClient, DynamoSnapshotStore } from '../../shared/store/dynamodb.ts';
import { openSharedLocalDynamo } from '../../shared/store/local-dynamo.ts';
import { credentialsOf, runCli } from '../support/cli.ts';
import { customerDetails } from './helpers.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** A CLI process left running: its output so far, and its exit. */
interface Running {
  readonly child: ChildProcess;
  stderr(): string;
  readonly exited: Promise<number | null>;
  /** Resolves once stderr matches `pattern` (rejects after `timeoutMs`). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

function startCli(args: readonly string[], env: Record<string, string>): Running {
  const child = spawn(process.execPath, ['bin/nutcache-cdc.mjs', ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const waiters = new Set<() => void>();
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString('utf8');
    for (const check of waiters) check();
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    child,
    stderr: () => stderr,
    exited,
    waitFor: (pattern, timeoutMs = 30_000) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no ${pattern} in ${timeoutMs} ms; stderr:\n${stderr}`));
        }, timeoutMs);
        const check = () => {
          if (!pattern.test(stderr)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        check();
      }),
  };
}

describe('nutcache-cdc commands side by side on one --state-dir', () => {
  let sandbox: Sandbox;
  let env: Record<string, string>;
  const dirs: string[] = [];
  const running: Running[] = [];

  beforeAll(async () => {
    sandbox = await startSandbox({ rateLimit: null, generated: 900 });
    env = {
      ...credentialsOf(sandbox),
    };
  });
  afterEach(async () => {
    for (const r of running.splice(0)) {
      if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
      await r.exited;
    }
    sandbox.setLatency(0);
  });
  afterAll(async () => {
    await sandbox.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  function newStateDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'nutcache-conc-'));
    dirs.push(dir);
    return dir;
  }
  function pollArgs(dir: string, ...more: string[]): string[] {
    return [
      'poll',
      '--base-url',
      sandbox.url,
      '--state-dir',
      dir,
      '--events-file',
      join(dir, 'events.jsonl'),
      ...more,
    ];
  }
  function start(args: readonly string[]): Running {
    const r = startCli(args, env);
    running.push(r);
    return r;
  }
  /** Starts a poll slowed down by the sandbox, and resolves once it is listing (it holds the lease). */
  async function startSlowPoll(dir: string, ...more: string[]): Promise<Running> {
    sandbox.setLatency(1000);
    const requestsBefore = sandbox.stats.requests;
    const poll = start(pollArgs(dir, ...more));
    await poll.waitFor(/nutcache-cdc poll: /);
    await until(() => sandbox.stats.requests >= requestsBefore + 2);
    return poll;
  }

  it('status works while a poll --watch runs, and a second poll of the organization answers busy (75)', async () => {
    const dir = newStateDir();
    const watch = await startSlowPoll(dir, '--watch', '--interval', '1');

    const status = await runCli(['status', '--state-dir', dir], env);
    expect(status.stderr).not.toMatch(/Database is closed|at .*\.js:/);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/lease: held by pid \d+ on \S+ \(running\), expires in \d+ s/);
    expect(status.stdout).toMatch(/Nutcache requests today: \d+ of 20000 \(this API key\)/);

    const second = await runCli(pollArgs(dir), env);
    expect(second.code, second.stderr).toBe(75);
    const lines = second.stderr.trim().split('\n');
    expect(lines.at(-1)).toMatch(
      /busy: .*pid \d+ on \S+ \(running\).* lease expires in \d+ s; nothing was done/,
    );
    expect(second.stderr).not.toMatch(/Database is closed| {4}at /);

    await watch.waitFor(/poll \S+ success/, 60_000);
    sandbox.setLatency(0);
    const after = await runCli(['status', '--state-dir', dir, '--json'], env);
    expect(after.code, after.stderr).toBe(0);
    expect(JSON.parse(after.stdout).runs[0].outcome).toBe('success');
    watch.child.kill('SIGINT');
    expect(await watch.exited).toBe(130);
  }, 120_000);

  it('Ctrl-C stops a poll at the next safe point (exit 130); the next poll loses no change and deletes nothing falsely', async () => {
    const dir = newStateDir();
    expect((await runCli(pollArgs(dir), env)).code).toBe(0);
    const [gone, changed] = sandbox
      .list()
      .slice(-2)
      .map((c) => c.id);
    sandbox.remove(gone as number);
    sandbox.update(changed as number, { name: 'Renamed while stopping' });
    const eventsBefore = readEvents(dir).length;

    const poll = await startSlowPoll(dir);
    poll.child.kill('SIGINT');
    await poll.waitFor(/stopping after this step \(Ctrl-C again to abort\)/, 5_000);
    await poll.waitFor(/stopped on request: the next poll carries on from here/, 10_000);
    expect(await poll.exited).toBe(130);
    expect(readEvents(dir).length).toBe(eventsBefore);

    sandbox.setLatency(0);
    const next = await runCli(pollArgs(dir), env);
    expect(next.code, next.stderr).toBe(0);
    const after = customerDetails(readEvents(dir).slice(eventsBefore));
    expect(after.map((d) => [d.changeType, d.customerId])).toEqual([
      ['updated', changed],
      ['deleted', gone],
    ]);
    sandbox.reset();
  }, 120_000);

  it('after Ctrl-C twice, or kill -9, the next poll takes over at once, and status shows the poll interrupted', async () => {
    const dir = newStateDir();
    const first = await startSlowPoll(dir);
    first.child.kill('SIGINT');
    await first.waitFor(/Ctrl-C again to abort/, 5_000);
    first.child.kill('SIGINT');
    expect(await first.exited).toBe(130);

    const status = await runCli(['status', '--state-dir', dir], env);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/lease: left by pid \d+ on \S+ \(gone\): that poll was interrupted/);

    const killed = await startSlowPoll(dir);
    killed.child.kill('SIGKILL');
    await killed.exited;
    sandbox.setLatency(0);
    const started = Date.now();
    const next = await runCli(pollArgs(dir), env);
    expect(next.code, next.stderr).toBe(0);
    expect(Date.now() - started).toBeLessThan(20_000);
    const listed = new Set(customerDetails(readEvents(dir)).map((d) => d.customerId));
    expect(listed.size).toBe(sandbox.size);
  }, 120_000);

  it('a lease whose holder cannot be seen answers busy with a hint; --break-lease takes it, never from a running poll', async () => {
    const dir = newStateDir();
    const local = await openSharedLocalDynamo(join(dir, 'dynamodb'));
    await createTable(local.client, LOCAL_TABLE_NAME);
    const store = new DynamoSnapshotStore({
      client: createDocumentClient(local.client),
      tableName: LOCAL_TABLE_NAME,
    });
    await store.acquireLease(sandbox.organizationGuid, 'pid:4242@another-host#abcd1234', 60_000);
    await local.close();

    const busy = await runCli(pollArgs(dir), env);
    expect(busy.code, busy.stderr).toBe(75);
    expect(busy.stderr).toMatch(
      /busy: another poll holds the lease of organization \S+: pid 4242 on another-host \(cannot tell whether it still runs\); the lease expires in \d+ s; nothing was done\n {2}if no poll of it runs, wait for the lease to expire or run poll --break-lease\n$/,
    );
    const broken = await runCli(pollArgs(dir, '--break-lease'), env);
    expect(broken.code, broken.stderr).toBe(0);
    expect(broken.stderr).toMatch(/broke the lease of organization \S+ held by pid 4242 on another-host/);

    const holder = await startSlowPoll(dir);
    const refused = await runCli(pollArgs(dir, '--break-lease'), env);
    expect(refused.code, refused.stderr).toBe(75);
    expect(refused.stderr).toMatch(/not broken: .*pid \d+ on \S+ \(running\); stop that poll first/);
    holder.child.kill('SIGINT');
    expect(await holder.exited).toBe(130);
  }, 120_000);
});

/** The events published into `dir`'s events file so far. */
function readEvents(dir: string): { detail: unknown }[] {
  let text: string;
  try {
    text = readFileSync(join(dir, 'events.jsonl'), 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as { detail: unknown });
}

async function until(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
