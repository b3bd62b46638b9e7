/**
 * `nutcache-cdc sandbox`: serves the sandbox Nutcache API on loopback until SIGINT/SIGTERM, and prints how
 * to point the poller (or curl) at it.
 */
import { type Sandbox, startSandbox } from '../../sandbox/server.ts';
import { numberOption, type OptionValues, parseCommandLine, showHelp, usageError } from '../lib/args.ts';

const HELP = `Usage: nutcache-cdc sandbox [options]

Serves a sandbox Nutcache API (customers, token, organizations) on loopback.

Options:
  --port N            TCP port (default 8080; 0 picks a free one)
  --host H            interface (default 127.0.0.1)
  --generated N       add N generated customers to the 8 documented ones (default 0)
  --seed S            seed of the generated customers (default 1)
  --no-documented     leave out the 8 documented customers
  --no-rate-limit     do not enforce 5 requests/s and 200/min per API key
  --latency MS        delay every answer by MS milliseconds (default 0)
  --quiet             do not print a line per request
  -h, --help          show this help
`;

const intOption = (name: string, raw: string | undefined, fallback: number, min: number): number =>
  numberOption(name, raw, fallback, { min });

const OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  generated: { type: 'string' },
  seed: { type: 'string' },
  latency: { type: 'string' },
  'no-rate-limit': { type: 'boolean' },
  'no-documented': { type: 'boolean' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type SandboxValues = OptionValues<typeof OPTIONS>;

interface SandboxNumbers {
  readonly port: number;
  readonly generated: number;
  readonly seed: number;
  readonly latencyMs: number;
}

/** The numeric options, checked (throws on a bad value). */
function sandboxNumbers(values: SandboxValues): SandboxNumbers {
  const port = intOption('port', values.port, 8080, 0);
  if (port > 65535) throw new Error(`--port must be at most 65535, got ${port}`);
  return {
    port,
    generated: intOption('generated', values.generated, 0, 0),
    seed: intOption('seed', values.seed, 1, 0),
    latencyMs: intOption('latency', values.latency, 0, 0),
  };
}

export async function run(argv: string[]): Promise<number> {
  const values = parseCommandLine('sandbox', argv, OPTIONS, { usage: HELP });
  if (typeof values === 'number') return values;
  let numbers: SandboxNumbers;
  try {
    numbers = sandboxNumbers(values);
  } catch (error) {
    return usageError('sandbox', error instanceof Error ? error.message : String(error), { usage: HELP });
  }
  if (values.help) return showHelp(HELP);

  const quiet = values.quiet === true;
  const sandbox = await startSandbox({
    ...numbers,
    host: values.host ?? '127.0.0.1',
    documented: values['no-documented'] !== true,
    rateLimit: values['no-rate-limit'] ? null : undefined,
    onRequest: quiet
      ? undefined
      : (e) => process.stdout.write(`${e.method} ${e.path} -> ${e.status || 'reset'} (${e.durationMs} ms)\n`),
  });
  process.stdout.write(banner(sandbox, values, numbers));
  await untilSignalled();
  await sandbox.close();
  process.stdout.write('Sandbox stopped.\n');
  return 0;
}

/** How to reach the sandbox, with its demo credentials. */
function banner(sandbox: Sandbox, values: SandboxValues, numbers: SandboxNumbers): string {
  // The sandbox's demo credentials are public (they are the documentation's sample values), so printing
  // them is the point of this command; no real credential ever passes through here.
  const c = sandbox.credentials;
  const basic = Buffer.from(`${c.apiKey}:${c.username}:${c.password}`).toString('base64');
  const limits = values['no-rate-limit'] ? 'none' : '5 requests/s, 200/min per API key';
  return [
    `Sandbox Nutcache API listening at ${sandbox.url}`,
    `  customers: ${sandbox.size} (${values['no-documented'] ? 0 : 8} documented + ${numbers.generated} generated, seed ${numbers.seed})`,
    `  rate limits: ${limits}`,
    '',
    'Demo credentials:',
    `  API key:           ${c.apiKey}`,
    `  user name:         ${c.username}`,
    `  password:          ${c.password}`,
    `  organization GUID: ${sandbox.organizationGuid}`,
    '',
    'Environment for the poller:',
    `  export NUTCACHE_API_KEY='${c.apiKey}'`,
    `  export NUTCACHE_USERNAME='${c.username}'`,
    `  export NUTCACHE_PASSWORD='${c.password}'`,
    `  export NUTCACHE_ORGANIZATION_GUID='${sandbox.organizationGuid}'`,
    `  npx nutcache-cdc poll --base-url ${sandbox.url}`,
    '',
    'Try it:',
    `  curl -H 'Authorization: nut-basic ${basic}' -H 'api-version: 3' -H 'OrganizationGuid: ${sandbox.organizationGuid}' '${sandbox.url}customers?limit=100&page=1'`,
    `  curl -d 'grant_type=password&username=${encodeURIComponent(c.username)}&password=${encodeURIComponent(c.password)}&api_key=${c.apiKey}' '${sandbox.url}token'`,
    '',
    'Press Ctrl+C to stop.',
    '',
  ].join('\n');
}

/** Resolves at the first SIGINT or SIGTERM. */
function untilSignalled(): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
