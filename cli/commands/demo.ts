/**
 * `npm start` / `nutcache-cdc demo`: the whole flow on one machine, no AWS account. Starts the sandbox
 * Nutcache API and an embedded DynamoDB, then polls every few seconds while a simulator creates, edits
 * and deletes customers (and changes the key casing of the answers, which must produce no event), and
 * prints each published event readably. Runs until Ctrl-C (or `--polls N`).
 */
import { type Sandbox, startSandbox } from '../../sandbox/server.ts';
import { type Simulator, simulator } from '../../sandbox/simulator.ts';
import { runPoll } from '../../shared/engine/poll.ts';
import { NutcacheClient } from '../../shared/nutcache/client.ts';
import type { EventBus, Log, SnapshotStore } from '../../shared/ports.ts';
import { MemoryDeadLetterSink } from '../../shared/publish/dead-letter.ts';
import { JsonLinesBus } from '../../shared/publish/jsonl.ts';
import { seededRandom } from '../../shared/publish/memory.ts';
import { systemClock } from '../../shared/util/clock.ts';
import { RecordingMetrics } from '../../shared/util/metrics.ts';
import { WebhookBus } from '../../shared/webhooks/webhook-bus.ts';
import {
  checked,
  checkWebhookOptions,
  numberOption,
  type OptionValues,
  parseCommandLine,
  showHelp,
} from '../lib/args.ts';
import { crmDelivery, printCrmTotals } from '../lib/demo-crm.ts';
import { createCliLog } from '../lib/log.ts';
import { plural } from '../lib/outcome.ts';
import { colorizer, PrintingBus, useColor } from '../lib/pretty.ts';
import { openStore } from '../lib/runtime.ts';
import { summarize } from './poll.ts';

const HELP = `Usage: npm start [-- options]   (or: nutcache-cdc demo [options])

The local demo: a sandbox Nutcache API, an embedded DynamoDB, a simulator editing customers, and a poll
every few seconds printing the change events. No AWS account needed. Ctrl-C stops.

Options:
  --interval SECONDS        pause between polls (default 3)
  --polls N                 stop after N polls (default: run until Ctrl-C)
  --generated N             generated customers besides the 8 documented ones (default 12)
  --seed N                  seed of the simulator (default: random)
  --events-file PATH        also append the events as JSON lines to PATH
  --webhook-url URL         deliver each event as a Standard Webhooks signed POST to URL…
  --webhook-secret whsec_…  …signed with this secret
  --crm                     also upsert the customers into the sandbox's CRM stand-in with the rules of
                            examples/crm-rules.yaml (HubSpot and Salesforce targets), and print the CRM's side
  --rules FILE              deliver the events to the CRM targets of FILE's rules (tokens: HUBSPOT_TOKEN,
                            SALESFORCE_ACCESS_TOKEN)
  --verbose                 log the engine's details on stderr
  -h, --help                this help
`;

const OPTIONS = {
  interval: { type: 'string' },
  polls: { type: 'string' },
  generated: { type: 'string' },
  seed: { type: 'string' },
  'events-file': { type: 'string' },
  'webhook-url': { type: 'string' },
  'webhook-secret': { type: 'string' },
  crm: { type: 'boolean' },
  rules: { type: 'string' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type DemoValues = OptionValues<typeof OPTIONS>;

interface DemoSettings {
  readonly intervalMs: number;
  readonly maxPolls: number;
  readonly seed: number;
  readonly generated: number;
}

/** The options checked (throws UsageError naming the option), with the same number parser as every command. */
function demoSettings(values: DemoValues): DemoSettings {
  const intervalMs = numberOption('interval', values.interval, 3, { min: 0.1, integer: false }) * 1000;
  const maxPolls = numberOption('polls', values.polls, Number.POSITIVE_INFINITY, { min: 1 });
  const seed = numberOption('seed', values.seed, Math.floor(Math.random() * 2 ** 31), { min: 0 });
  const generated = numberOption('generated', values.generated, 12, { min: 0 });
  checkWebhookOptions(values['webhook-url'], values['webhook-secret']);
  return { intervalMs, maxPolls, seed, generated };
}

export async function run(argv: string[]): Promise<number> {
  const values = parseCommandLine('demo', argv, OPTIONS, { usage: HELP });
  if (typeof values === 'number') return values;
  if (values.help) return showHelp(HELP);
  const settings = checked('demo', HELP, () => demoSettings(values));
  if (typeof settings === 'number') return settings;
  const color = useColor(process.stdout);
  const log = createCliLog(values.verbose ? 'info' : 'error');
  const sandbox = await startSandbox({ generated: settings.generated, seed: 1 });
  const opened = await openStore({ stateDir: '.nutcache-cdc', inMemory: true });
  const inner = forwardingBus(values, log);
  const demo: Demo = {
    sandbox,
    store: opened.store,
    bus: crmDelivery(values, sandbox, new PrintingBus(process.stdout, inner, color), colorizer(color), log),
    client: new NutcacheClient({
      baseUrl: sandbox.url,
      organizationGuid: sandbox.organizationGuid,
      credentials: sandbox.credentials,
      logger: log,
      clock: systemClock,
    }),
    simulator: simulator(sandbox, seededRandom(settings.seed)),
    log,
    c: colorizer(color),
  };
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  printBanner(
    demo,
    settings,
    opened.description,
    inner ? (values['webhook-url'] ?? values['events-file']) : undefined,
  );
  const progress = { polls: 0 };
  try {
    return await pollRepeatedly(demo, settings, progress, stop.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (values.crm) printCrmTotals(sandbox, demo.c);
    out(
      demo.c(
        'gray',
        `\n${plural(progress.polls, 'poll')}, ${plural(demo.client.requestCount, 'Nutcache request')}, ${plural(sandbox.stats.rateLimitViolations, 'rate-limit violation')} seen by the sandbox`,
      ),
    );
    await opened.close();
    await sandbox.close();
  }
}

interface Demo {
  readonly sandbox: Sandbox;
  readonly store: SnapshotStore;
  readonly bus: EventBus;
  readonly client: NutcacheClient;
  readonly simulator: Simulator;
  readonly log: Log;
  readonly c: ReturnType<typeof colorizer>;
}

const out = (line: string) => process.stdout.write(`${line}\n`);

/** Where the events go besides the terminal: a signed webhook, a JSON lines file, or nowhere. */
function forwardingBus(values: DemoValues, log: Log): EventBus | undefined {
  if (values['webhook-url']) {
    return new WebhookBus({ url: values['webhook-url'], secret: values['webhook-secret'] as string, log });
  }
  if (values['events-file']) return new JsonLinesBus({ target: values['events-file'] });
  return undefined;
}

function printBanner(
  demo: Demo,
  settings: DemoSettings,
  snapshots: string,
  forwardedTo: string | undefined,
): void {
  out(demo.c('bold', 'nutcache-cdc demo'));
  out(
    `  sandbox Nutcache API at ${demo.sandbox.url} (${demo.sandbox.size} customers, rate limits 5/s and 200/min enforced)`,
  );
  out(
    `  snapshots in ${snapshots}; events ${forwardedTo !== undefined ? `also sent to ${forwardedTo}` : 'printed here'}`,
  );
  out(`  simulator seed ${settings.seed}; a poll every ${settings.intervalMs / 1000} s. Ctrl-C stops.\n`);
}

/** Simulator edits, then a poll, every interval until `maxPolls` or a signal; 1 when a poll failed. */
async function pollRepeatedly(
  demo: Demo,
  settings: DemoSettings,
  progress: { polls: number },
  signal: AbortSignal,
): Promise<number> {
  const deadLetters = new MemoryDeadLetterSink();
  const metrics = new RecordingMetrics();
  let exitCode = 0;
  while (progress.polls < settings.maxPolls && !signal.aborted) {
    if (progress.polls > 0) {
      for (const line of demo.simulator.step()) out(demo.c('gray', `simulator: ${line}`));
    }
    const result = await runPoll(
      {
        source: demo.client,
        store: demo.store,
        bus: demo.bus,
        deadLetters,
        clock: systemClock,
        log: demo.log,
        metrics,
      },
      { organizationGuid: demo.sandbox.organizationGuid },
    );
    progress.polls += 1;
    out(demo.c('gray', summarize(result)));
    if (result.outcome === 'failed') exitCode = 1;
    if (progress.polls >= settings.maxPolls) break;
    try {
      await systemClock.sleep(settings.intervalMs, signal);
    } catch {
      break;
    }
  }
  return exitCode;
}
