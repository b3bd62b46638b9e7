/**
 * `nutcache-cdc poll` and `resync` as a user runs them (node bin/nutcache-cdc.mjs, a child process)
 * against the sandbox on loopback: the embedded DynamoDB under --state-dir, events as JSON lines, exit
 * codes and the one-line reasons on stderr; and against a shared DynamoDB table (dynalite) whose lease
 * another poller holds.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../sandbox/server.ts';
import {
  type CustomerChangeDetail,
  DETAIL_TYPES,
  type EventBridgeEvent,
  eventBridgeEventSchema,
} from '../../shared/events/contract.ts';
import { createTable } from '../../shared/store/create-table.ts';
import { createDocumentClient, DynamoSnapshotStore } from '../../shared/store/dynamodb.ts';
import { type LocalDynamo, startLocalDynamo } from '../../shared/store/local-dynamo.ts';
import { type CliRun, credentialsOf, runCli } from '../support/cli.ts';
import { ContractConsumer } from '../support/consumer.ts';
import { canonicalCustomersOf, changesOf, customerDetails, expectStableEventIds } from './helpers.ts';

type Run = CliRun;

/** Runs the CLI to completion with exactly the environment given. */
function cli(args: readonly string[], env: Record<string, string>): Promise<Run> {
  return runCli(args, env);
}

function stderrLines(run: Run): string[] {
  return run.stderr.split('\n').filter((line) => line.trim() !== '');
}

/** The summary lines the CLI printed (one per poll). */
function summaries(run: Run): string[] {
  return stderrLines(run).filter((line) => /^poll \S+ \w+/.test(line));
}

describe('nutcache-cdc poll against the sandbox (embedded DynamoDB, JSON lines)', () => {
  let sandbox: Sandbox;
  let dir: string;
  let eventsFile: string;
  let env: Record<string, string>;
  /** Every event line read so far, across runs. */
  const all: EventBridgeEvent[] = [];

  /** The events a run appended to the events file, each checked against the EventBridge shape. */
  function newEvents(): EventBridgeEvent[] {
    const text = existsSync(eventsFile) ? readFileSync(eventsFile, 'utf8') : '';
    const lines = text.split('\n').filter((line) => line !== '');
    const fresh = lines.slice(all.length).map((line) => eventBridgeEventSchema.parse(JSON.parse(line)));
    all.push(...fresh);
    return fresh;
  }

  function expectWellFormed(events: readonly EventBridgeEvent[], details: readonly CustomerChangeDetail[]) {
    events.forEach((event, i) => {
      const detail = details[i];
      expect(event.source).toBe('nutcache.customers');
      expect(event['detail-type']).toBe(detail ? DETAIL_TYPES[detail.changeType] : undefined);
      // EventBridge's `time` has whole seconds; it is the second the change was observed in.
      const observed = Date.parse(detail?.observedAt ?? '');
      expect(Date.parse(event.time)).toBe(observed - (observed % 1000));
      expect(detail?.organizationGuid).toBe(sandbox.organizationGuid);
    });
  }

  const poll = (command: 'poll' | 'resync' = 'poll') =>
    cli([command, '--base-url', sandbox.url, '--state-dir', dir, '--events-file', eventsFile], env);

  beforeAll(async () => {
    // The sandbox keeps Nutcache's documented rate limits: the CLI must stay within them.
    sandbox = await startSandbox();
    dir = mkdtempSync(join(tmpdir(), 'nutcache-cdc-cli-'));
    eventsFile = join(dir, 'events.jsonl');
    env = {
      HOME: dir,
      ...credentialsOf(sandbox),
    };
  });

  afterAll(async () => {
    await sandbox?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('writes exactly the expected events over polls with edits in between, and nothing when nothing changed', async () => {
    const first = await poll();
    expect(first.code, first.stderr).toBe(0);
    const initial = newEvents();
    const initialDetails = customerDetails(initial);
    expect(initial.map((e) => e['detail-type'])).toEqual(Array(8).fill('Customer Snapshot'));
    expect(initialDetails.map((d) => d.customerId).sort()).toEqual(
      sandbox
        .list()
        .map((c) => c.id)
        .sort(),
    );
    expectWellFormed(initial, initialDetails);
    expect(summaries(first)).toEqual([
      expect.stringMatching(/ success: 0 created, 0 updated, 0 deleted, 8 snapshots/),
    ]);

    const ids = sandbox.list().map((c) => c.id);
    const [updatedId, deletedId] = [ids[1] as number, ids[6] as number];
    const before = canonicalCustomersOf(sandbox).get(updatedId);
    const created = sandbox.create({
      name: 'Acme Ltée',
      email: 'info@acme.example',
      phone: '+1 418 555 0100',
    });
    sandbox.update(updatedId, { status: 1, contact: 'Marie Tremblay' });
    sandbox.remove(deletedId);

    const second = await poll();
    expect(second.code, second.stderr).toBe(0);
    const changes = newEvents();
    const details = customerDetails(changes);
    expectWellFormed(changes, details);
    expect(changesOf(details)).toEqual([
      ['created', created.id],
      ['deleted', deletedId],
      ['updated', updatedId],
    ]);
    const update = details.find((d) => d.changeType === 'updated');
    expect(update?.changedFields).toEqual(['status', 'contact']);
    expect(update?.changes).toEqual({
      status: { before: before?.status, after: 1 },
      contact: { before: before?.contact, after: 'Marie Tremblay' },
    });
    expect(details.find((d) => d.changeType === 'created')?.after).toEqual(
      canonicalCustomersOf(sandbox).get(created.id),
    );
    expect(details.find((d) => d.changeType === 'deleted')?.before?.id).toBe(deletedId);
    expect(details.every((d) => d.sequence > (initialDetails[0]?.sequence ?? 0))).toBe(true);
    const [summary] = summaries(second);
    expect(summaries(second)).toHaveLength(1);
    expect(summary).toMatch(
      /^poll \S+ success: 1 created, 1 updated, 1 deleted, 6 unchanged; \d+ Nutcache requests, \d+ ms$/,
    );

    const third = await poll();
    expect(third.code, third.stderr).toBe(0);
    expect(newEvents()).toEqual([]);
    expect(summaries(third)).toEqual([
      expect.stringMatching(/ success: 0 created, 0 updated, 0 deleted, 8 unchanged/),
    ]);

    // A consumer following the contract over every line written ends with exactly Nutcache's customers.
    expectStableEventIds(customerDetails(all));
    expect(new ContractConsumer().applyAll(all).customers).toEqual(canonicalCustomersOf(sandbox));
    expect(sandbox.stats.rateLimitViolations).toBe(0);
  });

  it('resync writes one Customer Snapshot per current customer', async () => {
    const run = await poll('resync');
    expect(run.code, run.stderr).toBe(0);
    const events = newEvents();
    const details = customerDetails(events);
    expectWellFormed(events, details);
    expect(details.map((d) => d.changeType)).toEqual(Array(sandbox.size).fill('snapshot'));
    expect(new Map(details.map((d) => [d.customerId, d.after]))).toEqual(canonicalCustomersOf(sandbox));
    expect(summaries(run)).toEqual([expect.stringMatching(/ success: .*8 snapshots/)]);
  });

  it('exits 75 without calling Nutcache when the daily request budget of the API key is spent', async () => {
    // The polls above used more than 2 requests of today's budget (same --state-dir, same quota store).
    const requests = sandbox.stats.requests;
    const run = await cli(
      [
        'poll',
        '--base-url',
        sandbox.url,
        '--state-dir',
        dir,
        '--events-file',
        eventsFile,
        '--daily-budget',
        '2',
      ],
      env,
    );
    expect(run.code, run.stderr).toBe(75);
    expect(summaries(run)).toEqual([
      expect.stringMatching(/ deferred \(the daily Nutcache request budget would be exceeded/),
    ]);
    expect(sandbox.stats.requests).toBe(requests);
    expect(newEvents()).toEqual([]);
  });

  it('refuses to run without credentials, naming the missing variables and printing no value', async () => {
    const password = 'pw-that-must-never-be-printed-7f3a';
    const run = await cli(['poll', '--base-url', sandbox.url, '--state-dir', join(dir, 'none')], {
      HOME: dir,
      NUTCACHE_USERNAME: 'someone@example.com',
      NUTCACHE_PASSWORD: password,
    });
    expect(run.code).not.toBe(0);
    expect(run.code).not.toBeNull();
    const lines = stderrLines(run);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('NUTCACHE_API_KEY');
    expect(lines[0]).toContain('NUTCACHE_ORGANIZATION_GUID');
    expect(lines[0]).not.toContain('NUTCACHE_PASSWORD');
    expect(lines[0]).not.toContain('NUTCACHE_USERNAME');
    expect(`${run.stdout}${run.stderr}`).not.toContain(password);
    expect(`${run.stdout}${run.stderr}`).not.toContain('someone@example.com');
  });

  it('exits 64 with a one-line reason on a malformed option, before touching Nutcache', async () => {
    const requests = sandbox.stats.requests;
    const run = await cli(['poll', '--base-url', sandbox.url, '--initial-events', 'everything'], env);
    expect(run.code).toBe(64);
    expect(stderrLines(run)[0]).toContain('--initial-events must be snapshot or none');
    expect(stderrLines(run).slice(1)).toEqual([
      'Usage: nutcache-cdc poll [options]',
      "Run 'nutcache-cdc poll --help' for the options.",
    ]);
    expect(sandbox.stats.requests).toBe(requests);
  });
});

describe('nutcache-cdc poll against a shared DynamoDB table', () => {
  let sandbox: Sandbox;
  let dynamo: LocalDynamo;
  let dir: string;

  beforeAll(async () => {
    sandbox = await startSandbox({ rateLimit: null });
    dynamo = await startLocalDynamo();
    dir = mkdtempSync(join(tmpdir(), 'nutcache-cdc-cli-table-'));
  });

  afterAll(async () => {
    await sandbox?.close();
    await dynamo?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('exits 75 and says so when another poll holds the organization lease', async () => {
    const table = 'cdc-shared';
    await createTable(dynamo.client, table);
    const store = new DynamoSnapshotStore({ client: createDocumentClient(dynamo.client), tableName: table });
    const lease = await store.acquireLease(sandbox.organizationGuid, 'poller-in-lambda', 10 * 60_000);
    expect(lease.acquired).toBe(true);
    const eventsFile = join(dir, 'events.jsonl');
    const env = {
      HOME: dir,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_REGION: 'local',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      ...credentialsOf(sandbox),
    };
    const args = [
      'poll',
      '--base-url',
      sandbox.url,
      '--table',
      table,
      '--state-dir',
      dir,
      '--events-file',
      eventsFile,
    ];

    const run = await cli(args, env);
    expect(run.code, run.stderr).toBe(75);
    expect(run.stderr).toMatch(/another poll .*holds the lease/i);
    expect(sandbox.stats.byPath.customers ?? 0).toBe(0);
    expect(existsSync(eventsFile)).toBe(false);

    // Once the holder is done, the same command polls.
    await store.releaseLease(sandbox.organizationGuid, 'poller-in-lambda');
    const next = await cli(args, env);
    expect(next.code, next.stderr).toBe(0);
    expect(readFileSync(eventsFile, 'utf8').trim().split('\n')).toHaveLength(8);
  });
});
