/**
 * Loads the scale scenario compiled by esbuild without `keepNames`. Under tsx every closure the rate
 * limiter creates per request is wrapped in a naming helper (`__name`, an `Object.defineProperty` call),
 * which cost about a quarter of the scenario's CPU time; the code run is the same source, bundled.
 * Packages stay external, so the bundle is written inside the repository (bench/results/, removed after
 * loading), where Node resolves them from node_modules.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

type ScaleModule = typeof import('./index.ts');

export async function loadBundledScale(): Promise<ScaleModule> {
  const results = fileURLToPath(new URL('../results/', import.meta.url));
  mkdirSync(results, { recursive: true });
  const dir = mkdtempSync(join(results, '.scale-bundle-'));
  const outfile = join(dir, 'scale.mjs');
  try {
    await build({
      entryPoints: [fileURLToPath(new URL('./index.ts', import.meta.url))],
      outfile,
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      packages: 'external',
      keepNames: false,
      logLevel: 'silent',
    });
    return (await import(pathToFileURL(outfile).href)) as ScaleModule;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
