/**
 * The deployment instructions (docs/deploy.md and the README) as someone about to deploy runs them: every
 * shell block is POSIX shell, no block puts a password or an API key on a command line, every stack output
 * a command reads exists in the synthesised stack, and every `nutcache-cdc` option used exists.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { GUID_A, GUID_B, synthesise } from '../infra/fixtures/synth.ts';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const DOCS = { 'docs/deploy.md': read('docs/deploy.md'), 'README.md': read('README.md') };

/** The ```sh blocks of a Markdown text. */
function shellBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
}
const blocks = Object.entries(DOCS).flatMap(([doc, text]) =>
  shellBlocks(text).map((code) => ({ doc, code })),
);

/** dash is a strict POSIX shell; plain `sh` where it is missing. */
function posixShell(args: string[], input?: string) {
  const dash = spawnSync('dash', args, { input, encoding: 'utf8' });
  return dash.error ? spawnSync('sh', args, { input, encoding: 'utf8' }) : dash;
}

describe('the deployment instructions', () => {
  it('have shell blocks to check', () => {
    expect(shellBlocks(DOCS['docs/deploy.md']).length).toBeGreaterThan(8);
    expect(shellBlocks(DOCS['README.md']).length).toBeGreaterThan(2);
  });

  it("use POSIX shell only (no bash-only read -p/-s, [[ ]], <<<, $'…', function, source)", () => {
    for (const { doc, code } of blocks) {
      const check = posixShell(['-n'], code);
      expect(check.status, `${doc}:\n${code}\n${check.stderr}`).toBe(0);
      expect(code, doc).not.toMatch(/\bread\s+(-\w+\s+)*-\w*[psa]|\[\[|<<<|\$'|^\s*function\s|^\s*source\s/m);
    }
  });

  it('never put a password or an API key on a command line', () => {
    for (const { doc, code } of blocks) {
      const lines = code.replace(/\\\n/g, ' ').split('\n');
      for (const line of lines) {
        // A secret value goes to the AWS CLI in a file, never as the argument itself.
        if (line.includes('--secret-string')) expect(line, doc).toMatch(/--secret-string "file:\/\//);
        expect(line, doc).not.toMatch(/--arg\s+(apiKey|api_key|password)\b/i);
        expect(line, doc).not.toMatch(/(PASSWORD|API_KEY)=\S/);
        expect(line, doc).not.toMatch(/"(password|apiKey)"\s*:\s*"/);
      }
    }
  });

  describe('stack outputs', () => {
    let outputs: string[];
    beforeAll(() => {
      // One organization of each secret kind: `create` (an upgraded deployment's) adds its own output.
      const { template } = synthesise({
        alarmEmail: 'ops@example.com',
        organizations: [
          { organizationGuid: GUID_A, secret: { type: 'convention' } },
          { organizationGuid: GUID_B, secret: { type: 'create' } },
        ],
      });
      outputs = Object.keys(template.findOutputs('*'));
    });

    it('exist for every output a command reads', () => {
      // Each line that reads an output, run with the documented organization, `output` printing the name
      // it is asked for and the other commands stubbed.
      const lines = shellBlocks(DOCS['docs/deploy.md'])
        .flatMap((code) => code.replace(/\\\n/g, ' ').split('\n'))
        .filter((line) => /(?<![-\w])output\s/.test(line));
      const script = [
        `ORG=${GUID_A}`,
        `output() { printf '%s\\n' "$1" >&2; }`,
        'aws() { :; }',
        'npx() { :; }',
        ...lines,
      ].join('\n');
      const run = posixShell(['-c', script]);
      const names = run.stderr.trim().split('\n');
      expect(names.length).toBeGreaterThan(5);
      for (const name of names) expect(outputs, name).toContain(name);
    });

    it('exist for every output the prose names as "output `Name`"', () => {
      const named = Object.values(DOCS).flatMap((text) =>
        [...text.matchAll(/\boutputs?\s+`([^`]+)`/g)].map((m) => m[1] ?? ''),
      );
      expect(named.length).toBeGreaterThan(0);
      for (const name of named) {
        // `<GUID>` in a name stands for any organization's id.
        const pattern = new RegExp(
          `^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace('<GUID>', '\\w+')}$`,
        );
        expect(
          outputs.some((output) => pattern.test(output)),
          `${name} in ${outputs.join(', ')}`,
        ).toBe(true);
      }
    });
  });

  it('use only nutcache-cdc options that exist', async () => {
    const used = new Map<string, Set<string>>();
    for (const { code } of blocks) {
      for (const m of code.matchAll(/npx nutcache-cdc (\w+)([^\n#]*)/g)) {
        const flags = used.get(m[1] ?? '') ?? new Set<string>();
        for (const flag of (m[2] ?? '').matchAll(/--[a-z-]+/g)) flags.add(flag[0]);
        used.set(m[1] ?? '', flags);
      }
    }
    expect([...(used.get('status') ?? [])].sort()).toEqual(['--organization', '--table']);
    for (const [command, flags] of used) {
      const help = await helpOf(command);
      for (const flag of flags) expect(help, `nutcache-cdc ${command} ${flag}`).toContain(flag);
    }
  });
});

/** What `nutcache-cdc <command> --help` prints. */
async function helpOf(command: string): Promise<string> {
  const module = (await import(`../../cli/commands/${command}.ts`)) as {
    run(argv: string[]): Promise<number>;
  };
  let printed = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    printed += String(chunk);
    return true;
  });
  try {
    expect(await module.run(['--help'])).toBe(0);
  } finally {
    spy.mockRestore();
  }
  return printed;
}
