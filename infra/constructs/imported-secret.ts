/** Secrets Manager secrets the stack does not own, named by ARN (complete or partial) or by name. */
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';

/** A complete secret ARN ends with the 6-character suffix Secrets Manager adds to the name. */
const COMPLETE_SECRET_ARN = /-[A-Za-z0-9]{6}$/;

/** A secret named by ARN: complete (with its suffix) or partial (without). */
export function importSecretByArn(scope: Construct, id: string, arn: string): secretsmanager.ISecret {
  return COMPLETE_SECRET_ARN.test(arn)
    ? secretsmanager.Secret.fromSecretCompleteArn(scope, id, arn)
    : secretsmanager.Secret.fromSecretPartialArn(scope, id, arn);
}

/** A secret named by ARN when `arn` is given, else by name. */
export function importSecret(
  scope: Construct,
  id: string,
  ref: { readonly arn?: string; readonly name?: string },
): secretsmanager.ISecret {
  return ref.arn !== undefined
    ? importSecretByArn(scope, id, ref.arn)
    : secretsmanager.Secret.fromSecretNameV2(scope, id, ref.name ?? '');
}
