import { describe, expect, it } from 'vitest';
import { POLLER_BENCH_ENVIRONMENT } from '../../bench/bundle.ts';
import { ENV } from '../../shared/config/env.ts';

describe('the bundle bench', () => {
  it('imports the poller with the settings the stack gives it, and no setting the poller ignores', () => {
    const productSettings = Object.keys(POLLER_BENCH_ENVIRONMENT).filter((name) => !name.startsWith('AWS_'));
    const known: readonly string[] = Object.values(ENV);
    for (const name of productSettings) expect(known, name).toContain(name);
    expect(productSettings).toEqual(
      expect.arrayContaining([ENV.tableName, ENV.eventBusName, ENV.deadLetterQueueUrl]),
    );
  });
});
