/** `nutcache-cdc resync`: a Customer Snapshot event for every current customer. Same options as `poll`. */
import { runPollCommand } from './poll.ts';

export function run(argv: string[]): Promise<number> {
  return runPollCommand(argv, 'resync');
}
