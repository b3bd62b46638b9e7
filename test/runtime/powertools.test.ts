/** The one adapter from the MetricsSink port to Powertools Metrics, used by every Lambda handler. */
import { describe, expect, it } from 'vitest';
import { type PowertoolsMetricsLike, powertoolsMetricsSink } from '../../shared/runtime/powertools.ts';

function recorder() {
  const added: [string, string, number][] = [];
  const metrics: PowertoolsMetricsLike = {
    addMetric: (name, unit, value) => added.push([name, unit, value]),
  };
  return { added, sink: powertoolsMetricsSink(metrics) };
}

describe('powertoolsMetricsSink', () => {
  it('records counts in the Count unit, one at a time unless told otherwise', () => {
    const { added, sink } = recorder();
    sink.count('PollDeferred');
    sink.count('EventsPublished', 7);
    expect(added).toEqual([
      ['PollDeferred', 'Count', 1],
      ['EventsPublished', 'Count', 7],
    ]);
  });

  it('records gauges in their unit, Count by default', () => {
    const { added, sink } = recorder();
    sink.gauge('PollDuration', 1234, 'Milliseconds');
    sink.gauge('Customers', 42);
    expect(added).toEqual([
      ['PollDuration', 'Milliseconds', 1234],
      ['Customers', 'Count', 42],
    ]);
  });
});
