/**
 * `nutcache-cdc resync`: a Customer Snapshot event for every current customer. Same options as `poll`,
 * except `--watch`: a resync runs once (a resync cut short is carried on by the next poll).
 */
import { usageError } from '../lib/args.ts';
import { runPollCommand } from './poll.ts';

export function run(argv: string[]): Promise<number> {
  const options = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
  if (options.includes('--watch')) {
    return Promise.resolve(
      usageError(
        'resync',
        '--watch is not available with resync (a resync runs once); run resync, then poll --watch',
      ),
    );
  }
  return runPollCommand(argv, 'resync');
}
