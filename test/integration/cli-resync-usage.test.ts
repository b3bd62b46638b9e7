/**
 * `nutcache-cdc resync --watch` and the `--events-file` help, as a user meets them (a child process): a
 * resync runs once, so `--watch` is a usage error found before anything is loaded or contacted; the help
 * says that `--events-file` appends.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';

describe('nutcache-cdc resync usage', () => {
  it('refuses --watch with exit 64 before loading credentials or contacting anything', async () => {
    // No credentials and an unreachable base URL: a usage error must come first.
    const run = await runCli(['resync', '--watch', '--base-url', 'http://127.0.0.1:9/webapi/'], {});
    expect(run.code).toBe(64);
    expect(run.stderr.split('\n')[0]).toBe(
      'nutcache-cdc resync: --watch is not available with resync (a resync runs once); run resync, then poll --watch',
    );
    expect(run.stdout).toBe('');
  });

  it('help: --events-file says it appends, for poll, resync and the demo', async () => {
    for (const command of ['poll', 'resync', 'demo']) {
      const help = await runCli([command, '--help'], {});
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/--events-file PATH +(also )?append (the )?events as JSON lines to PATH/);
    }
  });
});
