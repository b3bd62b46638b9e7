/**
 * Evaluates AWS requests against IAM policies with a real policy evaluator (`@cloud-copilot/iam-simulate`):
 * identity policies of the calling role, the resource's policy when it has one, and the trust policy for
 * `sts:AssumeRole`. Callers are role sessions (a Lambda function's execution role) or AWS service principals
 * (EventBridge, Scheduler, CloudWatch). The request context gets the global keys a real request carries
 * (`aws:SecureTransport`, `aws:PrincipalArn`, `aws:PrincipalAccount`, `aws:RequestedRegion`; `aws:SourceArn` and
 * `aws:SourceAccount` for a service acting for a resource) next to the service keys the caller recorded.
 */
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { ACCOUNT, type NamedPolicy, type PolicyDocument, REGION } from './cfn-template.ts';

export type Decision = 'Allowed' | 'ImplicitlyDenied' | 'ExplicitlyDenied' | 'Invalid';

export type Caller =
  | { readonly kind: 'role'; readonly roleArn: string; readonly sessionName: string }
  | {
      readonly kind: 'service';
      readonly service: string;
      /** The resource the service acts for (`aws:SourceArn`). */
      readonly sourceArn?: string;
      /** Its account (`aws:SourceAccount`). @default ACCOUNT */
      readonly sourceAccount?: string;
    }
  | { readonly kind: 'anonymous' };

export interface IamRequest {
  readonly caller: Caller;
  readonly action: string;
  readonly resource: string;
  readonly context?: Readonly<Record<string, string | string[]>>;
}

export interface IamPolicies {
  readonly identity?: readonly NamedPolicy[];
  readonly resource?: PolicyDocument;
}

export interface Evaluation {
  readonly decision: Decision;
  /** Validation errors or the deciding statements, for failure messages. */
  readonly detail: string;
}

function principalOf(caller: Caller): string | { type: 'Anonymous' } {
  switch (caller.kind) {
    case 'role': {
      const roleName = caller.roleArn.split(':role/')[1] ?? caller.roleArn;
      return `arn:aws:sts::${ACCOUNT}:assumed-role/${roleName}/${caller.sessionName}`;
    }
    case 'service':
      return caller.service;
    case 'anonymous':
      return { type: 'Anonymous' };
  }
}

function globalContext(caller: Caller): Record<string, string> {
  const base = { 'aws:SecureTransport': 'true', 'aws:RequestedRegion': REGION };
  switch (caller.kind) {
    case 'role':
      return {
        ...base,
        'aws:PrincipalArn': caller.roleArn,
        'aws:PrincipalAccount': ACCOUNT,
        'aws:PrincipalType': 'AssumedRole',
      };
    case 'service':
      return {
        ...base,
        'aws:PrincipalServiceName': caller.service,
        'aws:SourceAccount': caller.sourceAccount ?? ACCOUNT,
        ...(caller.sourceArn ? { 'aws:SourceArn': caller.sourceArn } : {}),
      };
    case 'anonymous':
      return base;
  }
}

/** The resource's account: from its ARN, or ours for `*` and account-less ARNs (S3, IAM-free services). */
function resourceAccount(resource: string): string {
  const account = resource.split(':')[4];
  return account && /^\d{12}$/.test(account) ? account : ACCOUNT;
}

export async function evaluate(request: IamRequest, policies: IamPolicies): Promise<Evaluation> {
  const result = await runSimulation(
    {
      request: {
        principal: principalOf(request.caller),
        action: request.action,
        resource: { resource: request.resource, accountId: resourceAccount(request.resource) },
        contextVariables: { ...globalContext(request.caller), ...request.context },
      },
      identityPolicies: (policies.identity ?? []).map((p) => ({ name: p.name, policy: p.policy })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(policies.resource ? { resourcePolicy: policies.resource } : {}),
    },
    {},
  );
  if (result.resultType === 'error') {
    return { decision: 'Invalid', detail: JSON.stringify(result.errors) };
  }
  const decision = result.overallResult as Decision;
  return { decision, detail: decision };
}

/** `action resource → decision`, one line, for failure messages and the report. */
export function describe(request: IamRequest, evaluation: Evaluation): string {
  const context = Object.entries(request.context ?? {})
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(' ');
  return `${request.action} on ${request.resource}${context ? ` [${context}]` : ''} → ${evaluation.decision}${evaluation.decision === 'Invalid' ? `: ${evaluation.detail}` : ''}`;
}
