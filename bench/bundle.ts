/**
 * The bundled poller's size and cold import time: built with esbuild the way the CDK construct
 * (infra/constructs/nutcache-function.ts) bundles it — ESM, node22, minified, AWS SDK included — into
 * node_modules/.cache (ignored by git), then imported in fresh Node processes.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { ENV } from '../shared/config/env.ts';

export interface BundleReport {
  readonly entry: string;
  readonly bytes: number;
  readonly gzipBytes: number;
  /** Median of the cold import times (ms), each in a fresh process. */
  readonly coldImportMs: number;
  readonly coldImportRunsMs: number[];
}

/**
 * The poller reads its configuration at import time, as in Lambda: a plausible environment, the settings
 * the stack gives it (organizations are read from the registry per poll, not from a setting).
 */
export const POLLER_BENCH_ENVIRONMENT: Readonly<Record<string, string>> = {
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  [ENV.tableName]: 'bench',
  [ENV.eventBusName]: 'bench',
  [ENV.deadLetterQueueUrl]: 'https://sqs.eu-west-1.amazonaws.com/000000000000/bench',
};

const BANNER =
  "import { createRequire as __nutcacheCreateRequire } from 'node:module'; const require = __nutcacheCreateRequire(import.meta.url);";

export async function measureBundle(
  root: string,
  entry = 'functions/poller.ts',
  runs = 5,
): Promise<BundleReport> {
  const outdir = resolve(root, 'node_modules/.cache/nutcache-cdc-bench');
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const outfile = join(outdir, 'poller.mjs');
  await build({
    entryPoints: [resolve(root, entry)],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    mainFields: ['module', 'main'],
    banner: { js: BANNER },
    minify: true,
    logLevel: 'silent',
  });
  const bytes = statSync(outfile).size;
  const gzipBytes = gzipSync(readFileSync(outfile)).length;
  const env = { ...process.env, ...POLLER_BENCH_ENVIRONMENT };
  const script = `const t = performance.now(); await import(${JSON.stringify(`file://${outfile}`)}); process.stdout.write(String(performance.now() - t)); process.exit(0);`;
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    times.push(Number(out));
  }
  const sorted = [...times].sort((a, b) => a - b);
  return {
    entry,
    bytes,
    gzipBytes,
    coldImportMs: sorted[Math.floor(sorted.length / 2)] ?? Number.NaN,
    coldImportRunsMs: times.map((t) => Math.round(t * 10) / 10),
  };
}
