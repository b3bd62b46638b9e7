/**
 * Upgrade in place from the version with one stack resource set per organization (commit 072d69e): that
 * version created each configured organization's secret in the stack (construct `Org<GUID>Secret` at the
 * stack's root, generated name, no retain policy) unless the configuration imported one. An organization
 * listed the same way (no `secret`, or `{"type": "create"}`) must keep that resource's logical id and
 * properties, so CloudFormation updates the deployed secret (value kept) instead of deleting it; it is now
 * retained and carries the ABAC tag the poller's grant matches, and the registrar receives its ARN.
 */
import { App, Stack } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { describe, expect, it } from 'vitest';
import { organizationId } from '../../infra/stacks/organization-credentials.ts';
import { GUID_A, GUID_B, GUID_C, synthesise } from './fixtures/synth.ts';

type Json = Record<string, unknown>;

/** The logical id the previous version gave the secret: a Secret with that construct id at the root. */
function previousSecretLogicalId(guid: string): string {
  const stack = new Stack(new App(), 'Previous');
  const secret = new secretsmanager.Secret(stack, `${organizationId(guid)}Secret`);
  return stack.getLogicalId(secret.node.defaultChild as secretsmanager.CfnSecret);
}

/** The previous version's secret properties (infra/stacks/organization-polling.ts at 072d69e). */
function previousSecretProperties(guid: string, env: string): Json {
  return {
    Description: `Nutcache API credentials of organization ${guid} (nutcache-cdc ${env}). Put {"apiKey","username","password","organizationGuid"} with aws secretsmanager put-secret-value.`,
    GenerateSecretString: {
      ExcludePunctuation: true,
      GenerateStringKey: 'placeholder',
      SecretStringTemplate: JSON.stringify({
        apiKey: '',
        username: '',
        password: '',
        organizationGuid: guid,
      }),
    },
  };
}

describe('a configuration of the previous version, deployed over its stack', () => {
  const { template } = synthesise({
    organizations: [
      { organizationGuid: GUID_A },
      { organizationGuid: GUID_B, secret: { type: 'create' } },
      { organizationGuid: GUID_C, secret: { type: 'convention' } },
    ],
  });
  const resources = template.toJSON().Resources as Record<string, Json>;

  it.each([GUID_A, GUID_B])(
    'keeps the secret the previous version created for %s (same logical id and properties), retained and tagged',
    (guid) => {
      const resource = resources[previousSecretLogicalId(guid)];
      expect(resource?.Type).toBe('AWS::SecretsManager::Secret');
      expect(resource?.DeletionPolicy).toBe('Retain');
      expect(resource?.UpdateReplacePolicy).toBe('Retain');
      const { Tags, ...properties } = (resource?.Properties ?? {}) as Json;
      // No Name (a name would replace it) and the same generated-string template (a new one would
      // overwrite the credentials the operator put).
      expect(properties).toEqual(previousSecretProperties(guid, 'test'));
      expect(Tags).toContainEqual({ Key: 'nutcache-cdc:environment', Value: 'test' });
    },
  );

  it("outputs each kept secret's ARN under the previous version's name", () => {
    const outputs = template.toJSON().Outputs as Record<string, Json>;
    expect(outputs[`${organizationId(GUID_A)}SecretArn`]?.Value).toEqual({
      Ref: previousSecretLogicalId(GUID_A),
    });
  });

  it('creates no secret for an organization that follows the naming convention', () => {
    const secrets = Object.keys(resources).filter(
      (id) => resources[id]?.Type === 'AWS::SecretsManager::Secret',
    );
    expect(secrets.sort()).toEqual([previousSecretLogicalId(GUID_A), previousSecretLogicalId(GUID_B)].sort());
  });

  it("passes the registrar only the stack's secrets' ARNs, by GUID", () => {
    template.hasResourceProperties('Custom::NutcacheCdcOrganizations', {
      StackSecrets: {
        [GUID_A]: { Ref: previousSecretLogicalId(GUID_A) },
        [GUID_B]: { Ref: previousSecretLogicalId(GUID_B) },
      },
    });
  });
});
