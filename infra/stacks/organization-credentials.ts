/**
 * Credentials at scale: every organization's Nutcache secret follows one convention, so the poller's grant
 * is three statements whatever the number of organizations (none per secret):
 * - a secret NAMED `<secretNamePrefix><GUID>` (`nutcache-cdc/<environment>/organizations/`), or
 * - a secret TAGGED `nutcache-cdc:environment=<environment>` (ABAC: an imported secret keeps its own name);
 * - decryption through Secrets Manager only (`kms:ViaService`), for a secret encrypted with a customer
 *   managed key (whose key policy must also let the poller's role, or the account's IAM policies, use it).
 * `orgs add` and the registrar create secrets under the prefix, with the tag; docs/organizations.md tells
 * how to import a secret of one's own.
 */
import { ArnFormat, CfnOutput, RemovalPolicy, Stack, Tags, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { IConstruct } from 'constructs';

import { defaultSecretNamePrefix, SECRET_TAG_KEY } from '../../shared/registry/deployment.ts';
import type { OrganizationConfig } from '../config.ts';

/** The tag key of the ABAC convention (its value is the environment name), as the deployment record names it. */
export { SECRET_TAG_KEY };

/** `nutcache-cdc/<environment>/organizations/`: the name prefix of the environment's organization secrets. */
export const secretNamePrefix = defaultSecretNamePrefix;

/** The ARN of this account's and region's secrets whose name matches `namePattern` (`*` as wildcard). */
export function secretArnPattern(scope: IConstruct, namePattern: string): string {
  return Stack.of(scope).formatArn({
    service: 'secretsmanager',
    resource: 'secret',
    resourceName: namePattern,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/** The statements that let `grantee` read every organization secret of `environmentName`, and only those. */
export function organizationSecretStatements(
  scope: IConstruct,
  environmentName: string,
): iam.PolicyStatement[] {
  const stack = Stack.of(scope);
  const allSecrets = secretArnPattern(scope, '*');
  return [
    new iam.PolicyStatement({
      sid: 'OrganizationSecretsByName',
      actions: ['secretsmanager:GetSecretValue'],
      resources: [secretArnPattern(scope, `${secretNamePrefix(environmentName)}*`)],
    }),
    new iam.PolicyStatement({
      sid: 'OrganizationSecretsByTag',
      actions: ['secretsmanager:GetSecretValue'],
      resources: [allSecrets],
      conditions: { StringEquals: { [`aws:ResourceTag/${SECRET_TAG_KEY}`]: environmentName } },
    }),
    new iam.PolicyStatement({
      sid: 'OrganizationSecretsCustomerManagedKeys',
      actions: ['kms:Decrypt'],
      resources: [stack.formatArn({ service: 'kms', resource: 'key', resourceName: '*', account: '*' })],
      // Through Secrets Manager only: it decrypts a secret the two statements above let the role read.
      conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${stack.region}.amazonaws.com` } },
    }),
  ];
}

/**
 * How cdk-nag names a resource of a finding: the resolved value with each `{"Ref": X}` written `<X>` (an
 * environment-agnostic stack's partition, region and account), so an acknowledgement names exactly it.
 */
export function nagResourceName(scope: IConstruct, value: string): string {
  const resolved: unknown = Stack.of(scope).resolve(value);
  if (typeof resolved === 'string') return resolved;
  const join = (resolved as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (!join) throw new Error(`cannot name ${JSON.stringify(resolved)} for cdk-nag`);
  return join[1]
    .map((part) => (typeof part === 'string' ? part : `<${(part as { Ref: string }).Ref}>`))
    .join(join[0]);
}

/** Adds the statements to `role`'s policy and acknowledges their wildcards (each by name), with the reason. */
export function grantOrganizationSecrets(role: iam.IRole, environmentName: string): void {
  const statements = organizationSecretStatements(role, environmentName);
  for (const statement of statements) role.addToPrincipalPolicy(statement);
  const policy = role.node.tryFindChild('DefaultPolicy');
  if (!policy) return;
  const reason =
    'Organizations are data (registered at run time): their secrets are granted by naming convention (prefix), by tag (ABAC) and, for customer managed keys, through Secrets Manager only; one statement each, whatever the number of organizations (docs/organizations.md).';
  Validations.of(policy).acknowledge(
    ...statements.flatMap((statement) =>
      statement.resources.map((resource) => ({
        id: `AwsSolutions-IAM5[Resource::${nagResourceName(role, resource)}]`,
        reason,
      })),
    ),
  );
}

/** A construct-id-safe form of a GUID: the previous version's `Org<GUID without dashes>`, kept for upgrades. */
export function organizationId(guid: string): string {
  return `Org${guid.replace(/-/g, '').toUpperCase()}`;
}

/**
 * The secrets of the configuration's organizations whose secret the stack creates (`{"type": "create"}`,
 * the default of the previous version): built exactly as the previous version built them (construct id
 * `Org<GUID>Secret` at the stack's root, same description and generated-string template, so their logical
 * ids and properties are unchanged and CloudFormation keeps the deployed secret and its value), now
 * retained if the stack ever drops them, and tagged so the poller's tag statement grants them. Returns their
 * ARNs by upper-case GUID.
 */
export function createStackSecrets(
  scope: IConstruct,
  organizations: readonly OrganizationConfig[],
  environmentName: string,
): Record<string, string> {
  const stack = Stack.of(scope);
  const arns: Record<string, string> = {};
  for (const org of organizations) {
    if (org.secret.type !== 'create') continue;
    const secret = new secretsmanager.Secret(stack, `${organizationId(org.organizationGuid)}Secret`, {
      description: `Nutcache API credentials of organization ${org.organizationGuid} (nutcache-cdc ${environmentName}). Put {"apiKey","username","password","organizationGuid"} with aws secretsmanager put-secret-value.`,
      generateSecretString: {
        secretStringTemplate: JSON.stringify({
          apiKey: '',
          username: '',
          password: '',
          organizationGuid: org.organizationGuid,
        }),
        generateStringKey: 'placeholder',
        excludePunctuation: true,
      },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Tags.of(secret).add(SECRET_TAG_KEY, environmentName);
    Validations.of(secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'Nutcache API keys and passwords are issued by Nutcache, which offers no API to rotate them; an operator rotates them with put-secret-value (see docs/deploy.md).',
    });
    new CfnOutput(stack, `${organizationId(org.organizationGuid)}SecretArn`, {
      value: secret.secretArn,
      description: `The secret of organization ${org.organizationGuid}: put its Nutcache credentials here`,
    });
    arns[org.organizationGuid.toUpperCase()] = secret.secretArn;
  }
  return arns;
}
