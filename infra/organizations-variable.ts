/**
 * The poller's `ORGANIZATIONS` environment variable: one entry per organization, serialised once here so
 * the function (infra/constructs/nutcache-function.ts, with CloudFormation tokens) and the configuration
 * check (infra/config.ts, with estimated ARN lengths) measure the same text. Lambda allows 4 KB for all of
 * a function's environment variables (keys and values), so the number of organizations is bounded.
 */

/** Lambda's limit on a function's environment variables, keys and values together. */
export const LAMBDA_ENVIRONMENT_LIMIT_BYTES = 4096;

/** What the poller needs to know about one organization, as it appears in `ORGANIZATIONS`. */
export interface OrganizationVariableEntry {
  readonly organizationGuid: string;
  readonly secretArn: string;
  readonly initialEvents: 'snapshot' | 'none';
  readonly scheduleRateMinutes?: number;
  readonly rateLimit?: { readonly perSecond: number; readonly perMinute: number };
}

/** One entry, with the optional fields left out when unset (the order is the variable's format). */
export function organizationVariableEntry(org: OrganizationVariableEntry): OrganizationVariableEntry {
  return {
    organizationGuid: org.organizationGuid,
    secretArn: org.secretArn,
    initialEvents: org.initialEvents,
    ...(org.scheduleRateMinutes ? { scheduleRateMinutes: org.scheduleRateMinutes } : {}),
    ...(org.rateLimit ? { rateLimit: org.rateLimit } : {}),
  };
}
