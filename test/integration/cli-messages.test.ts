/**
 * What the CLI tells a user, run as a user runs it (a child process) against the sandbox: configuration
 * mistakes exit 1 with one line and a hint naming the setting to fix, usage errors exit 64 before anything
 * is loaded or contacted, outcomes (held deletions, events re-published from the journal) are not hidden,
 * and the small things: --version, `help poll`, "did you mean", grammar, timestamps in --watch.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../sandbox/server.ts';
import { generateWebhookSecret } from '../../shared/webhooks/signing.ts';
import { type CliRun, runCli, runNode } from '../support/cli.ts';
import { credentialsOf } from './helpers.ts';

const OTHER_GUID = '11111111-2222-4333-8444-555555555555';

/** Stderr lines, without the header line that names where a poll reads and writes. */
function messageLines(run: CliRun): string[] {
  return run.stderr
    .split('\n')
    .filter((line) => line.trim() !== '' && !/^nutcache-cdc (poll|resync): organization /.test(line));
}

/** A server answering every request with `status` and `body` (an HTML page, a webhook receiver). */
async function answering(status: () => number, body: string, type = 'text/html'): Promise<Server> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(status(), { 'content-type': type }).end(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

const urlOf = (server: Server, path = '/'): string =>
  `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;

const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

describe('nutcache-cdc messages and exit codes', () => {
  let sandbox: Sandbox;
  let dir: string;
  let env: Record<string, string>;
  let n = 0;

  /** `poll` against the sandbox with a fresh --state-dir (unless given) and events in a file. */
  const poll = (args: readonly string[] = [], extraEnv: Record<string, string> = {}, stateDir?: string) => {
    n += 1;
    return runCli(
      [
        'poll',
        '--base-url',
        sandbox.url,
        '--state-dir',
        stateDir ?? join(dir, `state-${n}`),
        '--events-file',
        join(dir, `events-${n}.jsonl`),
        ...args,
      ],
      { ...env, ...extraEnv },
    );
  };

  beforeAll(async () => {
    sandbox = await startSandbox({ rateLimit: null });
    dir = mkdtempSync(join(tmpdir(), 'nutcache-cdc-messages-'));
    env = { HOME: dir, ...credentialsOf(sandbox) };
  });

  afterAll(async () => {
    await sandbox?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe('configuration mistakes: exit 1, one line and a hint naming the setting', () => {
    it('wrong credentials (401)', async () => {
      const run = await poll([], { NUTCACHE_API_KEY: 'not-the-key' });
      expect(run.code, run.stderr).toBe(1);
      const lines = messageLines(run);
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(/^poll \S+ failed \(Nutcache rejected the credentials with HTTP 401: /);
      expect(lines[1]).toMatch(/NUTCACHE_API_KEY.*--secret-id/);
      expect(run.stderr).not.toContain('{');
      expect(run.stderr).not.toContain('not-the-key');
    });

    it('an organization the credentials cannot see (403)', async () => {
      const run = await poll(['--organization', OTHER_GUID]);
      expect(run.code, run.stderr).toBe(1);
      const lines = messageLines(run);
      expect(lines).toEqual([
        expect.stringMatching(
          /^poll \S+ failed \(Nutcache refused organization 11111111-2222-4333-8444-555555555555 with HTTP 403: You do not have access to this organization\.\); 1 Nutcache request, \d+ ms$/,
        ),
        expect.stringMatching(/--organization.*NUTCACHE_ORGANIZATION_GUID/),
      ]);
    });

    it('a base URL that answers 404', async () => {
      const run = await runCli(
        ['poll', '--base-url', sandbox.url.replace('/webapi/', '/'), '--state-dir', join(dir, 'base-404')],
        env,
      );
      expect(run.code, run.stderr).toBe(1);
      const lines = messageLines(run);
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(/failed \(.*HTTP 404/);
      expect(lines[1]).toMatch(/--base-url/);
      expect(run.stderr).not.toContain('{');
    });

    it('a base URL that answers a web page', async () => {
      const html = await answering(() => 200, '<!doctype html><html><body>Welcome</body></html>');
      try {
        const run = await runCli(
          ['poll', '--base-url', urlOf(html, '/webapi/'), '--state-dir', join(dir, 'base-html')],
          env,
        );
        expect(run.code, run.stderr).toBe(1);
        const lines = messageLines(run);
        expect(lines).toHaveLength(2);
        expect(lines[0]).toMatch(/failed \(.*is not the Nutcache API/);
        expect(lines[1]).toMatch(/--base-url/);
      } finally {
        await close(html);
      }
    });

    it('a base URL where nothing listens (after the retries)', async () => {
      const gone = await answering(() => 200, '');
      const url = urlOf(gone, '/webapi/');
      await close(gone);
      const run = await runCli(['poll', '--base-url', url, '--state-dir', join(dir, 'base-refused')], env);
      expect(run.code, run.stderr).toBe(1);
      const lines = messageLines(run);
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(
        /failed \(cannot reach Nutcache at http:\/\/127\.0\.0\.1:\d+: connection refused/,
      );
      expect(lines[1]).toMatch(/--base-url/);
    }, 30_000);

    it('--verbose shows the details left out of the short message', async () => {
      const run = await poll(['--organization', OTHER_GUID, '--verbose']);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/listing did not finish.*"pollId"/);
    });
  });

  describe('usage errors: exit 64 with the usage, before credentials are loaded or anything contacted', () => {
    const noCredentials = { HOME: '/nonexistent' };

    async function expectUsage(
      args: readonly string[],
      pattern: RegExp,
      environment: Record<string, string> = noCredentials,
    ) {
      const requests = sandbox.stats.requests;
      const run = await runCli(args, environment);
      expect(run.code, run.stderr).toBe(64);
      expect(run.stderr.split('\n')[0]).toMatch(pattern);
      expect(run.stderr).toMatch(/Usage: /);
      expect(run.stderr).not.toMatch(/credentials missing/);
      expect(sandbox.stats.requests).toBe(requests);
      return run;
    }

    it('a malformed organization GUID, from the option or the environment', async () => {
      await expectUsage(['poll', '--organization', 'not-a-guid'], /--organization must be a GUID/);
      await expectUsage(['poll', '--base-url', sandbox.url], /NUTCACHE_ORGANIZATION_GUID must be a GUID/, {
        ...env,
        NUTCACHE_ORGANIZATION_GUID: 'acme',
      });
    });

    it('--webhook-url without a secret, a malformed secret, a malformed URL', async () => {
      await expectUsage(
        ['poll', '--webhook-url', 'http://127.0.0.1:1/hook'],
        /--webhook-url needs --webhook-secret/,
      );
      const secret = 'whsec_not*base64';
      const bad = await expectUsage(
        ['poll', '--webhook-url', 'http://127.0.0.1:1/hook', '--webhook-secret', secret],
        /--webhook-secret: a webhook secret is "whsec_" followed by base64/,
      );
      expect(bad.stderr).not.toContain(secret);
      await expectUsage(
        ['poll', '--webhook-url', 'not a url', '--webhook-secret', generateWebhookSecret()],
        /--webhook-url must be an http\(s\) URL/,
      );
      const base = await expectUsage(
        ['poll', '--base-url', 'apps.nutcache.com'],
        /--base-url must be an http\(s\) URL/,
      );
      expect(base.stderr).not.toMatch(/baseUrl/);
    });

    it('an unknown option suggests the closest one', async () => {
      await expectUsage(
        ['poll', '--stat-dir', 'x'],
        /unknown option '--stat-dir'; did you mean --state-dir\?/,
      );
      await expectUsage(['status', '--organisation', OTHER_GUID], /did you mean --organization\?/);
      const far = await expectUsage(['poll', '--frobnicate'], /unknown option '--frobnicate'/);
      expect(far.stderr).not.toMatch(/did you mean/);
    });

    it('the demo: one number parser, exit 64 on a bad option', async () => {
      await expectUsage(['demo', '--polls', 'many'], /--polls must be a whole number >= 1, got 'many'/);
      await expectUsage(['demo', '--interval', '0'], /--interval must be a number >= 0\.1/);
      await expectUsage(['demo', '--pols', '1'], /did you mean --polls\?/);
      await expectUsage(
        ['demo', '--webhook-url', 'http://127.0.0.1:1/'],
        /--webhook-url needs --webhook-secret/,
      );
      await expectUsage(
        ['demo', '--webhook-url', 'http://127.0.0.1:1/', '--webhook-secret', 'nope!'],
        /--webhook-secret: a webhook secret is "whsec_" followed by base64/,
      );
    });

    it('--interval takes the same numbers everywhere', async () => {
      await expectUsage(
        ['poll', '--interval', '1.5x'],
        /--interval must be a whole number >= 1, got '1\.5x'/,
      );
    });
  });

  it('--table without an AWS region says so in one line, like --event-bus', async () => {
    const run = await runCli(['poll', '--table', 'cdc', '--state-dir', join(dir, 'table')], {
      ...env,
      AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
    });
    expect(run.code, run.stderr).toBe(1);
    expect(messageLines(run)).toEqual([
      'nutcache-cdc: --table needs an AWS region: set AWS_REGION (or a profile with a region)',
    ]);
  });

  it('--version prints the version of package.json', async () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    const run = await runCli(['--version'], {});
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe(`nutcache-cdc ${version}`);
  });

  it('`help poll` shows the poll help; an unknown command suggests the closest', async () => {
    const help = await runCli(['help', 'poll'], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: nutcache-cdc poll \[options\]/);
    const typo = await runCli(['pol'], {});
    expect(typo.code).toBe(64);
    expect(typo.stderr).toMatch(/unknown command 'pol'; did you mean poll\?/);
  });

  it('a poll whose deletions the guard held exits 4 with `held`, and status shows it', async () => {
    const guarded = await startSandbox({ rateLimit: null, generated: 12 });
    const stateDir = join(dir, 'held');
    const run = (...args: string[]) =>
      runCli(
        [
          'poll',
          '--base-url',
          guarded.url,
          '--state-dir',
          stateDir,
          '--events-file',
          join(dir, 'held.jsonl'),
          ...args,
        ],
        {
          ...env,
          NUTCACHE_ORGANIZATION_GUID: guarded.organizationGuid,
        },
      );
    try {
      expect((await run()).code).toBe(0);
      for (const customer of guarded.list().slice(0, 8)) guarded.remove(customer.id);
      const held = await run();
      expect(held.code, held.stderr).toBe(4);
      const lines = messageLines(held);
      expect(lines[0]).toMatch(/^poll \S+ held \(8 deletions held by the mass-deletion guard/);
      expect(lines[1]).toMatch(/--allow-mass-deletion/);
      const status = await runCli(['status', '--state-dir', stateDir], {
        NUTCACHE_ORGANIZATION_GUID: guarded.organizationGuid,
      });
      expect(status.stdout).toMatch(/ held +poll .*8 deletions held/);
      const allowed = await run('--allow-mass-deletion');
      expect(allowed.code, allowed.stderr).toBe(0);
      expect(messageLines(allowed)[0]).toMatch(/ success: 0 created, 0 updated, 8 deleted/);
    } finally {
      await guarded.close();
    }
  }, 60_000);

  it('a poll that re-published journaled events says so, and status shows it', async () => {
    let answer = 500;
    const receiver = await answering(() => answer, '', 'text/plain');
    const stateDir = join(dir, 'journal');
    const secret = generateWebhookSecret();
    const run = () =>
      runCli(
        [
          'poll',
          '--base-url',
          sandbox.url,
          '--state-dir',
          stateDir,
          '--webhook-url',
          urlOf(receiver, '/hook'),
          '--webhook-secret',
          secret,
        ],
        env,
      );
    try {
      const failed = await run();
      expect(failed.code, failed.stderr).toBe(3);
      answer = 200;
      const next = await run();
      expect(next.code, next.stderr).toBe(0);
      expect(messageLines(next)[0]).toMatch(/ success: .*8 re-published from the journal of an earlier poll/);
      const status = await runCli(['status', '--state-dir', stateDir], env);
      expect(status.stdout).toMatch(/success +poll +8 re-published/);
    } finally {
      await close(receiver);
    }
  }, 60_000);

  it('grammar: "1 Nutcache request", "1 poll"', async () => {
    const run = await runCli(['demo', '--polls', '1', '--generated', '0'], {});
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/\b1 poll, \d+ Nutcache requests?,/);
    expect(run.stdout).not.toMatch(/\b1 polls\b/);
  });

  it('--watch summary lines carry a timestamp', async () => {
    const child = spawn(
      process.execPath,
      [
        'bin/nutcache-cdc.mjs',
        'poll',
        '--watch',
        '--interval',
        '1',
        '--base-url',
        sandbox.url,
        '--state-dir',
        join(dir, 'watch'),
        '--events-file',
        join(dir, 'watch.jsonl'),
      ],
      { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    const twoPolls = new Promise<void>((resolve) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString('utf8');
        if ((stderr.match(/ poll \S+ success/g) ?? []).length >= 2) resolve();
      });
    });
    const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
    await twoPolls;
    child.kill('SIGTERM');
    await exited;
    const summaries = stderr.split('\n').filter((line) => / poll \S+ success/.test(line));
    for (const line of summaries) expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ poll /);
  }, 30_000);

  it('synth: a missing or invalid syncRulesFile is a configuration error, not a stack trace', async () => {
    const example = JSON.parse(readFileSync('nutcache-cdc.config.example.json', 'utf8')) as object;
    const invalid = join(dir, 'bad-rules.yaml');
    writeFileSync(invalid, 'rules:\n  - name: x\n    match: [\n');
    for (const [rules, problem] of [
      [join(dir, 'absent.yaml'), /syncRulesFile: .*absent\.yaml: file not found/],
      [invalid, /syncRulesFile: .*bad-rules\.yaml: not valid YAML.*line 4/],
    ] as const) {
      const config = join(dir, 'synth.config.json');
      writeFileSync(config, JSON.stringify({ ...example, syncRulesFile: rules }));
      const run = await synth(config, join(dir, 'cdk.out'));
      expect(run.code, run.stderr).toBe(1);
      expect(run.stderr).toMatch(new RegExp(`Invalid nutcache-cdc configuration \\(${config}\\):\\n  - `));
      expect(run.stderr).toMatch(problem);
      expect(run.stderr).not.toMatch(/\n\s+at /);
    }
  }, 60_000);
});

/** The CDK app entry as `cdk synth` runs it (cdk.json's app), with the CLI's context, bundling skipped. */
function synth(config: string, outdir: string): Promise<CliRun> {
  return runNode(['--import', 'tsx', 'infra/app.ts'], {
    CDK_OUTDIR: outdir,
    CDK_CONTEXT_JSON: JSON.stringify({ config, 'aws:cdk:bundling-stacks': [] }),
  });
}
