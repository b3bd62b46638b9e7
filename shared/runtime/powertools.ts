/** Adapts Powertools Metrics to the MetricsSink port (every Lambda handler's metrics go through it). */
import type { MetricsSink } from '../ports.ts';

/** The subset of Powertools Metrics the sink needs. */
export interface PowertoolsMetricsLike {
  addMetric(name: string, unit: 'Count' | 'Milliseconds' | 'Bytes', value: number): void;
}

export function powertoolsMetricsSink(metrics: PowertoolsMetricsLike): MetricsSink {
  return {
    count: (name, value = 1) => metrics.addMetric(name, 'Count', value),
    gauge: (name, value, unit = 'Count') => metrics.addMetric(name, unit, value),
  };
}
