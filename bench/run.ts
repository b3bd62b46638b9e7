/**
 * `npm run bench [-- --sizes 1000,10000,100000] [--repeats 3] [--no-bundle] [--heap-mb 256] [--out <file>]`
 * `npm run bench -- --scenario scale …`: the scale scenario of organizations as data (bench/scale/cli.ts).
 *
 * Polls the sandbox Nutcache API (rate limits off, no latency) through the real NutcacheClient, into the
 * DynamoDB snapshot store on an embedded DynamoDB (dynalite), publishing to a counting in-process bus.
 * For each size N: an "all new" first poll, a fetch-only baseline (list and parse, no diffing), an
 * "unchanged" poll, and a "1% changed" poll. Every measured step runs in a fresh child process (so peak
 * RSS is the poller's alone); the sandbox and dynalite live in this process. The child's V8 heap is sized
 * as on a machine with the poller's memory (`--heap-mb`, see shared/engine/memory-fit.ts; 0 keeps the
 * default of this machine). Prints a table with each count beside its floor, the peak RSS per size against
 * the memory model, and writes bench/results/latest.json. See docs/performance.md.
 */
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startSandbox } from '../sandbox/server.ts';
import {
  BASELINE_MB,
  DEFAULT_POLLER_MEMORY_MB,
  PEAK_BYTES_PER_CUSTOMER,
  peakMemoryMb,
  v8OldSpaceMb,
} from '../shared/engine/memory-fit.ts';
import { createTable } from '../shared/store/create-table.ts';
import { startLocalDynamo } from '../shared/store/local-dynamo.ts';
import { type BundleReport, measureBundle } from './bundle.ts';
import type { ChildResult, ChildTask } from './child.ts';
import { runScaleCli } from './scale/cli.ts';

// The benchmark runs on Node.js 20 too: keep the AWS SDK's notice about Node 22 out of the table.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');

/** Index entry of one customer: the smallest state an unchanged poll must read (id + 64-bit hash). */
const INDEX_BYTES_PER_CUSTOMER = 16;
const READ_UNIT_BYTES = 4096;
/** The target for the all-new poll of 100,000 customers (half the poller's 512 MB). */
const ALL_NEW_PEAK_TARGET_MB = 256;
const ALL_NEW_PEAK_TARGET_SIZE = 100_000;

/** V8 old-space limit of the poll processes (MB); 0 = V8's default for this machine. */
let childHeapMb = v8OldSpaceMb(DEFAULT_POLLER_MEMORY_MB);

type Scenario = 'all new' | 'fetch-only' | 'unchanged' | '1% changed';

interface Row {
  readonly size: number;
  readonly scenario: Scenario;
  readonly result: ChildResult;
  readonly changed: number;
  readonly floors: {
    readonly nutcacheRequests: number;
    readonly readUnits: number;
    readonly writeUnits: number;
    readonly snapshotsWritten: number;
    readonly putEvents: number;
  };
  /** Wall time of every run (the median run is reported). */
  readonly wallRunsMs: readonly number[];
  /** Wall time relative to the fetch-only baseline of the same size. */
  readonly vsFetchOnly?: number;
  /** CPU time of the poller process relative to the fetch-only baseline. */
  readonly cpuVsFetchOnly?: number;
}

function runChild(task: ChildTask): Promise<ChildResult> {
  return new Promise((resolvePromise, reject) => {
    const child = fork(resolve(here, 'child.ts'), [], {
      execArgv: [
        '--no-warnings',
        ...(childHeapMb > 0 ? [`--max-old-space-size=${childHeapMb}`] : []),
        '--import',
        'tsx',
      ],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let answer: ChildResult | undefined;
    child.once('message', (message) => {
      answer = message as ChildResult;
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (answer) resolvePromise(answer);
      else reject(new Error(`benchmark child exited with code ${String(code)} without a result`));
    });
    child.send(task);
  });
}

function readFloor(size: number): number {
  return Math.ceil((size * INDEX_BYTES_PER_CUSTOMER) / READ_UNIT_BYTES);
}

/** The run with the median wall time, with the highest peak RSS of all runs. */
function median(runs: readonly ChildResult[]): ChildResult {
  const sorted = [...runs].sort((a, b) => a.wallMs - b.wallMs);
  const mid = sorted[Math.floor((sorted.length - 1) / 2)] as ChildResult;
  return {
    ...mid,
    peakRssMb: Math.max(...runs.map((r) => r.peakRssMb)),
    sampledPeakRssMb: Math.max(...runs.map((r) => r.sampledPeakRssMb ?? 0)),
  };
}

async function benchSize(size: number, repeats: number, log: (line: string) => void): Promise<Row[]> {
  const sandbox = await startSandbox({
    documented: false,
    generated: size,
    rateLimit: null,
    latencyMs: 0,
    seed: 7,
  });
  const dynamo = await startLocalDynamo();
  const tableName = `bench-${size}`;
  await createTable(dynamo.client, tableName);
  const base = {
    sandboxUrl: sandbox.url,
    organizationGuid: sandbox.organizationGuid,
    credentials: sandbox.credentials,
    dynamoEndpoint: dynamo.endpoint,
    tableName,
  };
  const pages = Math.ceil(size / 100);
  const rows: Row[] = [];
  const measured = async (scenario: Scenario, task: ChildTask): Promise<ChildResult> => {
    const result = await runChild(task);
    if (!result.ok) throw new Error(`N=${size} ${scenario}: ${result.error ?? result.outcome ?? 'failed'}`);
    return result;
  };
  const step = async (
    scenario: Scenario,
    kind: ChildTask['kind'],
    changed: number,
    floors: Row['floors'],
  ) => {
    log(`  N=${size.toLocaleString('en-US')} ${scenario} …`);
    const result = await measured(scenario, { kind, ...base });
    rows.push({ size, scenario, result, changed, floors, wallRunsMs: [result.wallMs] });
    return result;
  };
  try {
    await step('all new', 'poll', size, {
      nutcacheRequests: pages,
      readUnits: 0,
      writeUnits: size,
      snapshotsWritten: size,
      putEvents: Math.ceil(size / 10),
    });
    // Fetch-only and unchanged runs alternate, `repeats` times each; the run with the median wall time is
    // reported (the machine is shared: single runs are noisy). Neither changes any state.
    const fetchRuns: ChildResult[] = [];
    const unchangedRuns: ChildResult[] = [];
    for (let r = 0; r < repeats; r++) {
      log(`  N=${size.toLocaleString('en-US')} fetch-only and unchanged, run ${r + 1} of ${repeats} …`);
      fetchRuns.push(await measured('fetch-only', { kind: 'fetch', ...base }));
      unchangedRuns.push(await measured('unchanged', { kind: 'poll', ...base }));
    }
    const fetchOnly = median(fetchRuns);
    rows.push({
      size,
      scenario: 'fetch-only',
      result: fetchOnly,
      changed: 0,
      wallRunsMs: fetchRuns.map((r) => r.wallMs),
      floors: { nutcacheRequests: pages, readUnits: 0, writeUnits: 0, snapshotsWritten: 0, putEvents: 0 },
    });
    rows.push({
      size,
      scenario: 'unchanged',
      result: median(unchangedRuns),
      changed: 0,
      wallRunsMs: unchangedRuns.map((r) => r.wallMs),
      floors: {
        nutcacheRequests: pages,
        readUnits: readFloor(size),
        writeUnits: 0,
        snapshotsWritten: 0,
        putEvents: 0,
      },
    });
    // Edit one customer in a hundred, spread over the listing.
    const ids = sandbox.list().map((c) => c.id);
    let changed = 0;
    for (let i = 0; i < ids.length; i += 100) {
      sandbox.update(ids[i] as number, { notes: `bench edit ${i}` });
      changed += 1;
    }
    await step('1% changed', 'poll', changed, {
      nutcacheRequests: pages,
      // the index, plus the previous snapshot of each changed customer (one unit each at most 4 KB)
      readUnits: readFloor(size) + changed,
      writeUnits: changed,
      snapshotsWritten: changed,
      putEvents: Math.ceil(changed / 10),
    });
    return rows.map((row) =>
      row.scenario === 'fetch-only'
        ? row
        : {
            ...row,
            vsFetchOnly: row.result.wallMs / fetchOnly.wallMs,
            cpuVsFetchOnly: (row.result.cpuMs ?? 0) / (fetchOnly.cpuMs ?? Number.NaN),
          },
    );
  } finally {
    await sandbox.close();
    await dynamo.close();
  }
}

// ---------------------------------------------------------------------------------------------------
// Formatting

const int = (n: number) => Math.round(n).toLocaleString('en-US');
function withFloor(actual: number | undefined, floor: number): string {
  if (actual === undefined) return '—';
  const a = Math.round(actual * 10) / 10;
  if (floor === 0) return a === 0 ? `${int(a)} (0, ok)` : `${int(a)} (0, +${int(a)})`;
  return `${int(a)} (${int(floor)}, ${(actual / floor).toFixed(2)}×)`;
}

/** Peak RSS of each size's steps, and the growth per customer of the all-new poll between sizes. */
function peakSummary(rows: readonly Row[]): string[] {
  const sizes = [...new Set(rows.map((r) => r.size))];
  const peak = (size: number, scenario: Scenario) =>
    rows.find((r) => r.size === size && r.scenario === scenario)?.result.peakRssMb;
  const lines = sizes.map((size) => {
    const parts = (['all new', 'unchanged', '1% changed', 'fetch-only'] as const).map(
      (scenario) => `${scenario} ${(peak(size, scenario) ?? Number.NaN).toFixed(0)}`,
    );
    return `  N=${int(size)}: ${parts.join(', ')} MB`;
  });
  const [small, large] = [sizes[0], sizes.at(-1)];
  const low = small === undefined ? undefined : peak(small, 'all new');
  const high = large === undefined ? undefined : peak(large, 'all new');
  if (small !== undefined && large !== undefined && large > small && low && high) {
    const perCustomer = ((high - low) * 2 ** 20) / (large - small);
    lines.push(
      `  all new, ${int(small)} → ${int(large)}: ${int(perCustomer)} bytes per customer at peak ` +
        `(memory model: ${BASELINE_MB} MB + ${PEAK_BYTES_PER_CUSTOMER} B per customer)`,
    );
  }
  const heap = childHeapMb > 0 ? `--max-old-space-size=${childHeapMb}` : "V8's default for this machine";
  return [`Peak RSS of the poll process (VmHWM; heap: ${heap}):`, ...lines];
}

function table(rows: readonly Row[]): string {
  const header = [
    'N',
    'scenario',
    'wall s',
    'cust/s',
    'RSS start/peak MB',
    'Nutcache req (floor, ×)',
    'DynamoDB req',
    'read units (floor, ×)',
    'write units (floor, ×)',
    'snapshots written (floor)',
    'PutEvents (floor, ×)',
    '× fetch-only (wall)',
    'CPU s (× fetch-only)',
  ];
  const lines = rows.map((row) => {
    const r = row.result;
    const dynamoRequests = r.dynamo ? Object.values(r.dynamo.requests).reduce((a, b) => a + b, 0) : undefined;
    const isFetch = row.scenario === 'fetch-only';
    return [
      int(row.size),
      row.scenario,
      (r.wallMs / 1000).toFixed(2),
      int(r.customers / (r.wallMs / 1000)),
      `${r.baselineRssMb.toFixed(0)}/${r.peakRssMb.toFixed(0)}`,
      withFloor(r.nutcacheRequests, row.floors.nutcacheRequests),
      isFetch ? '—' : int(dynamoRequests ?? 0),
      isFetch ? '—' : withFloor(r.dynamo?.readUnits, row.floors.readUnits),
      isFetch ? '—' : withFloor(r.dynamo?.writeUnits, row.floors.writeUnits),
      isFetch ? '—' : withFloor(r.snapshotsCommitted, row.floors.snapshotsWritten),
      isFetch ? '—' : withFloor(r.putEventsCalls, row.floors.putEvents),
      row.vsFetchOnly === undefined ? '1.00' : row.vsFetchOnly.toFixed(2),
      `${((r.cpuMs ?? 0) / 1000).toFixed(2)} (${row.cpuVsFetchOnly === undefined ? '1.00' : row.cpuVsFetchOnly.toFixed(2)})`,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const fmt = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [fmt(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(fmt)].join('\n');
}

interface TargetCheck {
  readonly target: string;
  readonly measured: string;
  readonly met: boolean;
}

function checkTargets(rows: readonly Row[], bundle: BundleReport | undefined): TargetCheck[] {
  const largest = Math.max(...rows.map((r) => r.size));
  const at = (scenario: Scenario) => rows.find((r) => r.size === largest && r.scenario === scenario);
  const unchanged = at('unchanged');
  const changed = at('1% changed');
  const checks: TargetCheck[] = [];
  const n = int(largest);
  if (unchanged) {
    const u = unchanged.result;
    const floor = unchanged.floors.readUnits;
    checks.push({
      target: `unchanged poll of ${n}: read units ≤ 2× floor (${int(floor)})`,
      measured: `${int(u.dynamo?.readUnits ?? 0)} (${((u.dynamo?.readUnits ?? 0) / floor).toFixed(2)}×)`,
      met: (u.dynamo?.readUnits ?? Number.POSITIVE_INFINITY) <= 2 * floor,
    });
    checks.push({
      target: `unchanged poll of ${n}: no snapshot written`,
      measured: `${u.snapshotsCommitted ?? '?'} written`,
      met: u.snapshotsCommitted === 0,
    });
    checks.push({
      target: `unchanged poll of ${n}: no PutEvents`,
      measured: `${u.putEventsCalls ?? '?'} calls`,
      met: u.putEventsCalls === 0,
    });
    checks.push({
      target: `unchanged poll of ${n}: ≤ 1.5× the fetch-only time`,
      measured: `${(unchanged.vsFetchOnly ?? Number.NaN).toFixed(2)}× wall (median of ${unchanged.wallRunsMs.length}), ${(unchanged.cpuVsFetchOnly ?? Number.NaN).toFixed(2)}× CPU`,
      met: (unchanged.vsFetchOnly ?? Number.POSITIVE_INFINITY) <= 1.5,
    });
    checks.push({
      target: `unchanged poll of ${n}: peak RSS < 300 MB`,
      measured: `${u.peakRssMb.toFixed(0)} MB`,
      met: u.peakRssMb < 300,
    });
  }
  const allNew = rows.find((r) => r.size === ALL_NEW_PEAK_TARGET_SIZE && r.scenario === 'all new');
  if (allNew) {
    const peak = allNew.result.peakRssMb;
    checks.push({
      target: `all-new poll of ${int(ALL_NEW_PEAK_TARGET_SIZE)}: peak RSS < ${ALL_NEW_PEAK_TARGET_MB} MB`,
      measured: `${peak.toFixed(0)} MB`,
      met: peak < ALL_NEW_PEAK_TARGET_MB,
    });
  }
  for (const row of rows.filter((r) => r.scenario === 'all new')) {
    const model = peakMemoryMb(row.size);
    checks.push({
      target: `all-new poll of ${int(row.size)}: peak RSS within the memory model (${model.toFixed(0)} MB)`,
      measured: `${row.result.peakRssMb.toFixed(0)} MB`,
      met: row.result.peakRssMb <= model,
    });
  }
  if (changed) {
    const c = changed.result;
    const events = c.eventsPublished ?? 0;
    checks.push({
      target: `1% changed poll of ${n}: writes only the ${int(changed.changed)} changed customers`,
      measured: `${int(c.snapshotsCommitted ?? -1)} written, ${int(events)} events`,
      met: c.snapshotsCommitted === changed.changed && events === changed.changed,
    });
    checks.push({
      target: `1% changed poll of ${n}: ceil(events/10) PutEvents`,
      measured: `${int(c.putEventsCalls ?? -1)} calls for ${int(events)} events`,
      met: c.putEventsCalls === Math.ceil(events / 10),
    });
  }
  if (bundle) {
    checks.push({
      target: 'bundled poller < 1 MB',
      measured: `${(bundle.bytes / 1e6).toFixed(3)} MB (${(bundle.gzipBytes / 1e3).toFixed(0)} KB gzip)`,
      met: bundle.bytes < 1_000_000,
    });
    checks.push({
      target: 'cold import of the bundled poller < 300 ms',
      measured: `${bundle.coldImportMs.toFixed(0)} ms (median of ${bundle.coldImportRunsMs.length})`,
      met: bundle.coldImportMs < 300,
    });
  }
  return checks;
}

// ---------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const scenario = process.argv.indexOf('--scenario');
  if (scenario !== -1) {
    const name = process.argv[scenario + 1];
    if (name !== 'scale') throw new Error(`--scenario: only "scale" is known, got ${String(name)}`);
    return runScaleCli(process.argv.slice(2));
  }
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string', default: '1000,10000,100000' },
      'no-bundle': { type: 'boolean', default: false },
      repeats: { type: 'string', default: '3' },
      'heap-mb': { type: 'string', default: String(childHeapMb) },
      out: { type: 'string', default: resolve(root, 'bench/results/latest.json') },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      'Usage: npm run bench -- [--sizes 1000,10000,100000] [--repeats 3] [--no-bundle] [--heap-mb 256] [--out file.json]\n' +
        '       npm run bench -- --scenario scale [--orgs 10000] [--keys 500] [--hours 24] [--seed 10] [--limiter real|fixed-window] [--window-divisor D] [--pickup-ms 1000] [--latency-ms 250] [--out file.json]\n',
    );
    return;
  }
  const sizes = values.sizes.split(',').map((s) => Number(s.trim().replace(/_/g, '')));
  for (const size of sizes) {
    if (!Number.isSafeInteger(size) || size < 1)
      throw new Error(`--sizes: ${JSON.stringify(values.sizes)} is not a list of positive integers`);
  }
  const repeats = Number(values.repeats);
  if (!Number.isSafeInteger(repeats) || repeats < 1) throw new Error('--repeats must be a positive integer');
  childHeapMb = Number(values['heap-mb']);
  if (!Number.isSafeInteger(childHeapMb) || childHeapMb < 0)
    throw new Error('--heap-mb must be 0 (V8 default) or a whole number of MB');
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const started = Date.now();
  log(`nutcache-cdc benchmark: sizes ${sizes.map(int).join(', ')}`);

  const rows: Row[] = [];
  for (const size of sizes) rows.push(...(await benchSize(size, repeats, log)));

  let bundle: BundleReport | undefined;
  if (!values['no-bundle']) {
    log('  bundling functions/poller.ts …');
    try {
      bundle = await measureBundle(root);
    } catch (error) {
      log(`  bundle not measured: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
    }
  }

  const checks = checkTargets(rows, bundle);
  const out = [
    table(rows),
    '',
    ...(bundle
      ? [
          `Bundled poller (${bundle.entry}, esbuild ESM minified, AWS SDK included): ${int(bundle.bytes)} bytes, ` +
            `${int(bundle.gzipBytes)} gzipped; cold import ${bundle.coldImportMs.toFixed(0)} ms (runs: ${bundle.coldImportRunsMs.join(', ')} ms)`,
          '',
        ]
      : []),
    ...peakSummary(rows),
    '',
    'Targets:',
    ...checks.map((c) => `  ${c.met ? 'met ' : 'MISS'}  ${c.target}: ${c.measured}`),
    '',
    `Total benchmark time ${((Date.now() - started) / 1000).toFixed(0)} s on ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}.`,
  ].join('\n');
  process.stdout.write(`${out}\n`);

  mkdirSync(dirname(values.out), { recursive: true });
  writeFileSync(
    values.out,
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        machine: {
          cpus: cpus().length,
          cpuModel: cpus()[0]?.model,
          totalMemMb: Math.round(totalmem() / 2 ** 20),
          node: process.version,
        },
        sizes,
        childHeapMb,
        rows: rows.map((r) => ({
          size: r.size,
          scenario: r.scenario,
          changed: r.changed,
          floors: r.floors,
          vsFetchOnly: r.vsFetchOnly,
          cpuVsFetchOnly: r.cpuVsFetchOnly,
          wallRunsMs: r.wallRunsMs,
          ...r.result,
        })),
        bundle,
        targets: checks,
        totalSeconds: (Date.now() - started) / 1000,
      },
      null,
      2,
    )}\n`,
  );
  log(`results written to ${values.out}`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
