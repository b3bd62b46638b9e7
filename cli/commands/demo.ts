/**
 * `npm start` / `nutcache-cdc demo`: the whole flow on one machine, no AWS account. Starts the sandbox
 * Nutcache API and an embedded DynamoDB, then polls every few seconds while a simulator creates, edits
 * and deletes customers (and changes the key casing of the answers, which must produce no event), and
 * prints each published event readably. Runs until Ctrl-C (or `--polls N`).
 */
import { parseArgs } from 'node:util';
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
import { type OptionValues, showHelp } from '../lib/args.ts';
import { createCliLog } from '../lib/log.ts';
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
  --verbose                 log the engine's details on stderr
  -h, --help                this help
`;

function number(name: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number >= ${min}, got '${raw}'`);
  return n;
}

const OPTIONS = {
  interval: { type: 'string' },
  polls: { type: 'string' },
  generated: { type: 'string' },
  seed: { type: 'string' },
  'events-file': { type: 'string' },
  'webhook-url': { type: 'string' },
  'webhook-secret': { type: 'string' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type DemoValues = OptionValues<typeof OPTIONS>;

interface DemoSettings {
  readonly intervalMs: number;
  readonly maxPolls: number;
  readonly seed: number;
}

function demoSettings(values: DemoValues): DemoSettings {
  const intervalMs = number('interval', values.interval, 3, 0.1) * 1000;
  const maxPolls =
    values.polls === undefined ? Number.POSITIVE_INFINITY : number('polls', values.polls, 1, 1);
  const seed =
    values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : number('seed', values.seed, 1, 0);
  if (values['webhook-url'] && !values['webhook-secret'])
    throw new Error('--webhook-url needs --webhook-secret whsec_…');
  return { intervalMs, maxPolls, seed };
}

export async function run(argv: string[]): Promise<number> {
  // A bad option is thrown (nutcache-cdc: …, exit 1), as the demo always did.
  const { values } = parseArgs({ args: argv, options: OPTIONS });
  if (values.help) return showHelp(HELP);
  const settings = demoSettings(values);
  const color = useColor(process.stdout);
  const log = createCliLog(values.verbose ? 'info' : 'error');
  const sandbox = await startSandbox({ generated: number('generated', values.generated, 12, 0), seed: 1 });
  const opened = await openStore({ stateDir: '.nutcache-cdc', inMemory: true });
  const inner = forwardingBus(values, log);
  const demo: Demo = {
    sandbox,
    store: opened.store,
    bus: new PrintingBus(process.stdout, inner, color),
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
    out(
      demo.c(
        'gray',
        `\n${progress.polls} polls, ${demo.client.requestCount} Nutcache requests, ${sandbox.stats.rateLimitViolations} rate-limit violations seen by the sandbox`,
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
