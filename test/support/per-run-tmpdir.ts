/**
 * Vitest global setup: the temporary files of one test run (the `cdk.out*` directories CDK makes for every
 * app synthesised without an `outdir` in test/infra, test/iam, test/docs and test/webhooks; embedded
 * DynamoDB directories; event files…) all go under one directory of the OS temp directory, removed when the
 * run ends, so `npm test` leaves nothing behind. The test processes inherit `TMPDIR` (os.tmpdir()).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'nutcache-cdc-test-run-'));
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  return () => {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    rmSync(dir, { recursive: true, force: true });
  };
}
