/** Adapts Powertools Metrics to the engine's MetricsSink port. */
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MetricsSink } from '../ports.ts';

export class PowertoolsMetricsSink implements MetricsSink {
  constructor(private readonly metrics: Metrics) {}

  count(name: string, value = 1): void {
    this.metrics.addMetric(name, MetricUnit.Count, value);
  }

  gauge(name: string, value: number, unit: 'Milliseconds' | 'Count' | 'Bytes' = 'Count'): void {
    this.metrics.addMetric(name, MetricUnit[unit], value);
  }
}
