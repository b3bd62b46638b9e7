/**
 * A deliberately broken limiter, for the audit's negative test and `--limiter fixed-window`: it counts
 * requests per calendar second (5) and per calendar minute (200), Nutcache's numbers, and resets the counts
 * at each boundary. A burst at the end of one minute and another at the start of the next put up to 400
 * requests in 60 s: the classic fixed-window flaw, which the sliding-window audit must catch.
 */

import type { RateLimiter } from '../../shared/nutcache/rate-limiter.ts';
import type { Clock } from '../../shared/ports.ts';

export class FixedWindowLimiter implements RateLimiter {
  readonly #clock: Clock;
  #second = -1;
  #inSecond = 0;
  #minute = -1;
  #inMinute = 0;
  #pausedUntil = 0;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  async acquire(): Promise<void> {
    for (;;) {
      const now = this.#clock.now();
      if (now < this.#pausedUntil) {
        await this.#clock.sleep(this.#pausedUntil - now);
        continue;
      }
      const second = Math.floor(now / 1000);
      const minute = Math.floor(now / 60_000);
      if (second !== this.#second) [this.#second, this.#inSecond] = [second, 0];
      if (minute !== this.#minute) [this.#minute, this.#inMinute] = [minute, 0];
      if (this.#inMinute >= 200) await this.#clock.sleep((minute + 1) * 60_000 - now);
      else if (this.#inSecond >= 5) await this.#clock.sleep((second + 1) * 1000 - now);
      else {
        this.#inSecond += 1;
        this.#inMinute += 1;
        return;
      }
    }
  }

  pauseUntil(untilMs: number): void {
    this.#pausedUntil = Math.max(this.#pausedUntil, untilMs);
  }
}
