/**
 * Ctrl-C (SIGINT) and SIGTERM during a command: the first asks it to stop at its next safe point (and says
 * so), a second one ends the process at once. Either way the exit status is 128 + the signal's number
 * (130 for Ctrl-C).
 */
import { constants } from 'node:os';

export interface StopOnSignals {
  /** Aborted by the first signal. */
  readonly signal: AbortSignal;
  /** 128 + the first signal's number once one came; undefined before. */
  readonly exitCode: number | undefined;
  /** Stops listening (the signals' default behaviour is back). */
  dispose(): void;
}

export const STOPPING_MESSAGE = 'stopping after this step (Ctrl-C again to abort)';

export function stopOnSignals(write: (text: string) => void = (t) => process.stderr.write(t)): StopOnSignals {
  const controller = new AbortController();
  let exitCode: number | undefined;
  const onSignal = (name: NodeJS.Signals) => {
    const code = 128 + (constants.signals[name] ?? 2);
    if (exitCode !== undefined) {
      write('aborted\n');
      process.exit(code);
    }
    exitCode = code;
    write(`${STOPPING_MESSAGE}\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    get exitCode() {
      return exitCode;
    },
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
