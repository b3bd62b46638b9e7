/**
 * Metric names shared by the CDK stack (alarms, dashboard, the functions' environment) and the functions that
 * publish the metrics, so the two can never drift apart.
 */

/** The CloudWatch namespace of every function's Powertools metrics (`POWERTOOLS_METRICS_NAMESPACE`). */
export const METRICS_NAMESPACE = 'NutcacheCdc';

/**
 * The poller's Powertools service name (the `service` dimension of its metrics). The stack deploys it as
 * `<POLLER_SERVICE_NAME>-<environment>`; a poller run without that setting uses the bare name.
 */
export const POLLER_SERVICE_NAME = 'nutcache-cdc-poller';
