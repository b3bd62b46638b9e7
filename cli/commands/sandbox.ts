/**
 * `nutcache-cdc sandbox`: serves the sandbox Nutcache API on loopback until SIGINT/SIGTERM, and prints how
 * to point the poller (or curl) at it.
 */
import { parseArgs } from 'node:util';
import { startSandbox } from '../../sandbox/server.ts';

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

function intOption(name: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined) return fallback;
  if (!/^[0-9]+$/.test(raw) || Number(raw) < min || !Number.isSafeInteger(Number(raw))) {
    throw new Error(`--${name} must be an integer >= ${min}, got '${raw}'`);
  }
  return Number(raw);
}

export async function run(argv: string[]): Promise<number> {
  let values: {
    port?: string;
    host?: string;
    generated?: string;
    seed?: string;
    latency?: string;
    'no-rate-limit'?: boolean;
    'no-documented'?: boolean;
    quiet?: boolean;
    help?: boolean;
  };
  let port: number;
  let generated: number;
  let seed: number;
  let latencyMs: number;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        generated: { type: 'string' },
        seed: { type: 'string' },
        latency: { type: 'string' },
        'no-rate-limit': { type: 'boolean' },
        'no-documented': { type: 'boolean' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
    port = intOption('port', values.port, 8080, 0);
    if (port > 65535) throw new Error(`--port must be at most 65535, got ${port}`);
    generated = intOption('generated', values.generated, 0, 0);
    seed = intOption('seed', values.seed, 1, 0);
    latencyMs = intOption('latency', values.latency, 0, 0);
  } catch (error) {
    process.stderr.write(
      `nutcache-cdc sandbox: ${error instanceof Error ? error.message : String(error)}\n\n${HELP}`,
    );
    return 64;
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }

  const quiet = values.quiet === true;
  const sandbox = await startSandbox({
    port,
    host: values.host ?? '127.0.0.1',
    generated,
    seed,
    latencyMs,
    documented: values['no-documented'] !== true,
    rateLimit: values['no-rate-limit'] ? null : undefined,
    onRequest: quiet
      ? undefined
      : (e) => process.stdout.write(`${e.method} ${e.path} -> ${e.status || 'reset'} (${e.durationMs} ms)\n`),
  });

  // The sandbox's demo credentials are public (they are the documentation's sample values), so printing
  // them is the point of this command; no real credential ever passes through here.
  const c = sandbox.credentials;
  const basic = Buffer.from(`${c.apiKey}:${c.username}:${c.password}`).toString('base64');
  const limits = values['no-rate-limit'] ? 'none' : '5 requests/s, 200/min per API key';
  process.stdout.write(
    [
      `Sandbox Nutcache API listening at ${sandbox.url}`,
      `  customers: ${sandbox.size} (${values['no-documented'] ? 0 : 8} documented + ${generated} generated, seed ${seed})`,
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
    ].join('\n'),
  );

  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await sandbox.close();
  process.stdout.write('Sandbox stopped.\n');
  return 0;
}
