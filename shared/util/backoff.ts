/**
 * Full-jitter exponential backoff (AWS Architecture Blog, "Exponential Backoff And Jitter"): a uniformly
 * random wait in [0, min(maxDelayMs, baseDelayMs · 2^(retry−1))), where `retry` is 1 for the first retry.
 * Shared by the Nutcache client, the event publisher, the dead-letter sink and the DynamoDB store.
 */
export function fullJitterDelay(
  retry: number,
  baseDelayMs: number,
  maxDelayMs: number,
  random: () => number,
): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
}
