/**
 * `nutcache-cdc <command>`: the command-line entry point. Each command lives in its own module under
 * cli/commands and is loaded only when asked for, so `sandbox` does not pay for the AWS SDK.
 */
// The CLI supports Node.js 20 (the Lambda runs 22): keep the AWS SDK's Node 20 notice out of its output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

type CommandModule = { run(argv: string[]): Promise<number> };

const commands: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  demo: {
    summary: 'run the local demo: sandbox, simulator, polls, readable events',
    load: () => import('./commands/demo.ts'),
  },
  poll: {
    summary: 'poll one organization once (or --watch) and publish its changes',
    load: () => import('./commands/poll.ts'),
  },
  resync: {
    summary: 'publish a Customer Snapshot event for every current customer',
    load: () => import('./commands/resync.ts'),
  },
  status: {
    summary: "show an organization's state and its recent polls",
    load: () => import('./commands/status.ts'),
  },
  sandbox: {
    summary: 'serve a sandbox Nutcache API on loopback',
    load: () => import('./commands/sandbox.ts'),
  },
  rules: {
    summary: 'validate CRM sync rules and test them against an event',
    load: () => import('./commands/rules.ts'),
  },
  orgs: {
    summary: 'register, list, pause, resume and remove the organizations to poll',
    load: () => import('./commands/orgs.ts'),
  },
};

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `Usage: nutcache-cdc <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun 'nutcache-cdc <command> --help' for a command's options.`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`);
    return name ? 0 : 64;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`nutcache-cdc: unknown command '${name}'\n\n${usage()}\n`);
    return 64;
  }
  const mod = await command.load();
  return mod.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // A command that is done must not hang on a handle something forgot to close (a keep-alive socket):
    // give output a moment to drain, then leave. The timer itself keeps nothing alive.
    setTimeout(() => process.exit(code), 2_000).unref();
  },
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`nutcache-cdc: ${message.split('\n')[0]}\n`);
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 2_000).unref();
  },
);
