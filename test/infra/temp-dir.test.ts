/**
 * `npm test` leaves no `cdk.out*` directory in the OS temp directory: an app synthesised without an
 * `outdir` (as most infra tests do) writes under the run's own temp directory, which the global setup
 * (test/support/per-run-tmpdir.ts) removes when the run ends.
 */
import { basename, dirname } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';

describe('temporary files of the test run', () => {
  it("put an app's cdk.out under the run's temp directory", () => {
    const app = new App();
    new Stack(app, 'Empty');
    const assembly = app.synth();
    expect(basename(assembly.directory)).toMatch(/^cdk\.out/);
    expect(basename(dirname(assembly.directory))).toMatch(/^nutcache-cdc-test-run-/);
  });
});
