import type { MetricsSink } from '../ports.ts';

/** A metrics sink that keeps totals in memory: used by the CLI run summary and by tests. */
export class RecordingMetrics implements MetricsSink {
  readonly counts = new Map<string, number>();
  readonly gauges = new Map<string, number>();

  count(name: string, value = 1): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + value);
  }

  gauge(name: string, value: number): void {
    this.gauges.set(name, value);
  }

  get(name: string): number {
    return this.counts.get(name) ?? 0;
  }
}
