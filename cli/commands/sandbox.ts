/**
 * `nutcache-cdc sandbox`: serves the sandbox Nutcache API on loopback until SIGINT/SIGTERM, and prints how
 * to point the poller (or curl) at it. Its data can be changed from outside: by the demo's simulator
 * (`--simulate`) and through the admin endpoint (sandbox/routes/admin.ts, documented in sandbox/README.md).
 */
import { type Sandbox, startSandbox } from '../../sandbox/server.ts';
import { simulator } from '../../sandbox/simulator.ts';
import { seededRandom } from '../../shared/publish/memory.ts';
import { numberOption, type OptionValues, parseCommandLine, showHelp, usageError } from '../lib/args.ts';

const HELP = `Usage: nutcache-cdc sandbox [options]

Serves a sandbox Nutcache API (customers, token, organizations) on loopback, and a CRM stand-in
(HubSpot- and Salesforce-like upserts) for CRM sync rules; its URLs and tokens are printed.

Options:
  --port N            TCP port (default 8080; 0 picks a free one)
  --host H            interface (default 127.0.0.1)
  --generated N       add N generated customers to the 8 documented ones (default 0)
  --seed S            seed of the generated customers (default 1)
  --no-documented     leave out the 8 documented customers
  --no-rate-limit     do not enforce 5 requests/s and 200/min per API key
  --latency MS        delay every answer by MS milliseconds (default 0)
  --simulate          create, edit and delete customers now and then, as the demo does (printed)
  --interval SECONDS  pause between simulator steps (default 10)
  --quiet             do not print a line per request
  -h, --help          show this help

The admin endpoint changes the data from outside (create, update, delete a customer, switch the key
casing, inject a fault), e.g.:
  curl -X PATCH -d '{"email":"new@acme.test"}' http://127.0.0.1:8080/admin/customers/147033
See sandbox/README.md.
`;

const intOption = (name: string, raw: string | undefined, fallback: number, min: number): number =>
  numberOption(name, raw, fallback, { min });

const OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  generated: { type: 'string' },
  seed: { type: 'string' },
  latency: { type: 'string' },
  simulate: { type: 'boolean' },
  interval: { type: 'string' },
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
  readonly intervalMs: number;
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
    intervalMs: intOption('interval', values.interval, 10, 1) * 1000,
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

  const host = values.host ?? '127.0.0.1';
  const sandbox = await listen(values, numbers, host);
  if (!sandbox) return 1;
  process.stdout.write(banner(sandbox, values, numbers));
  const simulating = values.simulate ? simulate(sandbox, numbers) : undefined;
  await untilSignalled();
  clearInterval(simulating);
  await sandbox.close();
  process.stdout.write('Sandbox stopped.\n');
  return 0;
}

/** Starts the sandbox; undefined (the reason printed) when the port is taken or not ours to use. */
async function listen(
  values: SandboxValues,
  numbers: SandboxNumbers,
  host: string,
): Promise<Sandbox | undefined> {
  const quiet = values.quiet === true;
  try {
    return await startSandbox({
      port: numbers.port,
      generated: numbers.generated,
      seed: numbers.seed,
      latencyMs: numbers.latencyMs,
      host,
      admin: true,
      documented: values['no-documented'] !== true,
      rateLimit: values['no-rate-limit'] ? null : undefined,
      onRequest: quiet
        ? undefined
        : (e) =>
            process.stdout.write(`${e.method} ${e.path} -> ${e.status || 'reset'} (${e.durationMs} ms)\n`),
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EADDRINUSE' && code !== 'EACCES') throw error;
    const why = code === 'EADDRINUSE' ? 'is already in use' : 'may not be used by this user';
    process.stderr.write(
      `nutcache-cdc sandbox: port ${numbers.port} on ${host} ${why}; use --port 0 for a free port, or another --port\n`,
    );
    return undefined;
  }
}

/** Runs a simulator step every interval, printing what it did. */
function simulate(sandbox: Sandbox, numbers: SandboxNumbers): NodeJS.Timeout {
  const steps = simulator(sandbox, seededRandom(numbers.seed));
  return setInterval(() => {
    for (const line of steps.step()) process.stdout.write(`simulator: ${line}\n`);
  }, numbers.intervalMs);
}

/** How to reach the sandbox, with its demo credentials. */
function banner(sandbox: Sandbox, values: SandboxValues, numbers: SandboxNumbers): string {
  // The sandbox's demo credentials are public (they are the documentation's sample values), so printing
  // them is the point of this command; no real credential ever passes through here.
  const c = sandbox.credentials;
  const basic = Buffer.from(`${c.apiKey}:${c.username}:${c.password}`).toString('base64');
  const limits = values['no-rate-limit'] ? 'none' : '5 requests/s, 200/min per API key';
  const admin = sandbox.url.replace(/webapi\/$/, 'admin/');
  const ids = sandbox.list().map((customer) => customer.id);
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
    `Admin endpoint (change the data, then poll again; see sandbox/README.md):`,
    `  curl -X PATCH -d '{"email":"new@acme.test"}' ${admin}customers/${ids[0] ?? 1}`,
    `  curl -X DELETE ${admin}customers/${ids.at(-1) ?? 2}`,
    `  curl -d '{"name":"Tyrell Group"}' ${admin}customers`,
    `  curl -X PUT -d '{"casing":"lower"}' ${admin}key-casing`,
    `  curl -d '{"kind":"status","status":500,"path":"customers","times":2}' ${admin}faults`,
    ...(values.simulate
      ? [`  simulator: a step every ${numbers.intervalMs / 1000} s (seed ${numbers.seed})`]
      : []),
    '',
    ...crmLines(sandbox),
    '',
    'Try it:',
    `  curl -H 'Authorization: nut-basic ${basic}' -H 'api-version: 3' -H 'OrganizationGuid: ${sandbox.organizationGuid}' '${sandbox.url}customers?limit=100&page=1'`,
    `  curl -d 'grant_type=password&username=${encodeURIComponent(c.username)}&password=${encodeURIComponent(c.password)}&api_key=${c.apiKey}' '${sandbox.url}token'`,
    '',
    'Press Ctrl+C to stop.',
    '',
  ].join('\n');
}

/** The CRM stand-in's URLs and the tokens it accepts (public sandbox values), for CRM sync rules. */
function crmLines(sandbox: Sandbox): string[] {
  const { hubspotUrl, salesforceUrl, tokens } = sandbox.crm;
  return [
    'CRM stand-in (HubSpot- and Salesforce-like upserts for CRM sync rules; see sandbox/README.md):',
    `  HubSpot baseUrl:        ${hubspotUrl}  token: ${tokens.hubspot}`,
    `  Salesforce instanceUrl: ${salesforceUrl}  token: ${tokens.salesforce}`,
    `  export HUBSPOT_TOKEN='${tokens.hubspot}'`,
    `  export SALESFORCE_ACCESS_TOKEN='${tokens.salesforce}'`,
    '  then, in a copy of examples/crm-rules.yaml with baseUrl and instanceUrl set to the URLs above:',
    `  npx nutcache-cdc poll --rules crm-rules.yaml --base-url ${sandbox.url}`,
  ];
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
