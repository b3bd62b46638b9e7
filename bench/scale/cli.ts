/**
 * `npm run bench -- --scenario scale [--orgs 10000] [--keys 500] [--hours 24] [--seed 10]
 *   [--limiter real|fixed-window] [--window-divisor D] [--pickup-ms 1000]
 *   [--latency-ms 250] [--out bench/results/scale.json]`
 *
 * Prints the scale scenario's figures and targets (docs/performance.md "Scale"), writes them as JSON, and
 * exits non-zero when a target is missed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadBundledScale } from './bundled.ts';
import { formatScale, scaleFigures, scaleJson } from './format.ts';
import type { LimiterChoice } from './simulate.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function positive(name: string, value: string): number {
  const n = Number(value.replace(/_/g, ''));
  if (!Number.isSafeInteger(n) || n < 1)
    throw new Error(`--${name} must be a positive integer, got ${value}`);
  return n;
}

function parse(argv: readonly string[]) {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      scenario: { type: 'string' },
      orgs: { type: 'string', default: '10000' },
      keys: { type: 'string', default: '500' },
      hours: { type: 'string', default: '24' },
      seed: { type: 'string', default: '10' },
      limiter: { type: 'string', default: 'real' },
      'window-divisor': { type: 'string' },
      'pickup-ms': { type: 'string', default: '1000' },
      'latency-ms': { type: 'string', default: '250' },
      out: { type: 'string', default: resolve(root, 'bench/results/scale.json') },
    },
  });
  if (values.limiter !== 'real' && values.limiter !== 'fixed-window') {
    throw new Error(`--limiter must be real or fixed-window, got ${values.limiter}`);
  }
  return {
    organizations: positive('orgs', values.orgs),
    apiKeys: positive('keys', values.keys),
    hours: positive('hours', values.hours),
    seed: positive('seed', values.seed),
    limiter: values.limiter as LimiterChoice,
    windowDivisor:
      values['window-divisor'] === undefined
        ? undefined
        : positive('window-divisor', values['window-divisor']),
    pickupMs: positive('pickup-ms', values['pickup-ms']),
    latencyMs: positive('latency-ms', values['latency-ms']),
    out: values.out,
  };
}

export async function runScaleCli(argv: readonly string[]): Promise<void> {
  const args = parse(argv);
  const scale = await loadBundledScale();
  const base = scale.DEFAULT_SCALE_OPTIONS;
  const options = {
    ...base,
    workload: { ...base.workload, organizations: args.organizations, apiKeys: args.apiKeys, seed: args.seed },
    durationMs: args.hours * 3_600_000,
    limiter: args.limiter,
    windowDivisor: args.windowDivisor,
    pickupMs: args.pickupMs,
    latencyMs: args.latencyMs,
  };
  const cpuStart = process.cpuUsage();
  let shown = 0;
  const run = await scale.runScale(options, (done, total) => {
    if (done === total || done - shown >= Math.ceil(total / 10)) {
      shown = done;
      process.stderr.write(`  scale: ${done} of ${total} API-key groups simulated\n`);
    }
  });
  const cpu = process.cpuUsage(cpuStart);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const memoryMb = scale.POLLER_MEMORY_MB;
  process.stdout.write(`${formatScale(run, memoryMb, cpuMs)}\n`);
  mkdirSync(dirname(args.out), { recursive: true });
  writeFileSync(args.out, `${JSON.stringify(scaleJson(run, memoryMb, cpuMs), null, 2)}\n`);
  process.stderr.write(`results written to ${args.out}\n`);
  if (!scaleFigures(run, memoryMb).targetsMet) process.exitCode = 1;
}
