import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // One temp directory per run, removed at its end: no cdk.out* (or other) leftovers in the OS temp dir.
    globalSetup: ['test/support/per-run-tmpdir.ts'],
    // The tools run on Node.js 20 too; the AWS SDK's notice about Node 22 is noise in test output.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
