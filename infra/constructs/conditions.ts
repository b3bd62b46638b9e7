/**
 * IAM condition fragments of the stack's trust and resource policies, named after the rule each states, so
 * a reader sees the rule before the syntax. A service principal acting for a resource (a schedule group, a
 * rule, an alarm) is limited to this account's resources: the confused-deputy guard.
 */

/** The service acts for a resource of this account. */
export function sourceAccountIs(account: string): Record<string, string> {
  return { 'aws:SourceAccount': account };
}

/** The service acts for this resource (with `ArnLike`: for a resource matching this pattern). */
export function sourceArnIs(arn: string): Record<string, string> {
  return { 'aws:SourceArn': arn };
}

/** The service acts for exactly this resource of this account (a trust policy's confused-deputy guard). */
export function onlyForResource(account: string, sourceArn: string): Record<string, Record<string, string>> {
  return { StringEquals: { ...sourceAccountIs(account), ...sourceArnIs(sourceArn) } };
}
