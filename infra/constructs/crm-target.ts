/**
 * The deployed side of a CRM target (HubSpot or Salesforce) of a sync rule: an `AWS::Events::Connection`
 * (HubSpot: an `Authorization: Bearer <token>` API-key header; Salesforce: OAuth client credentials against
 * `{instanceUrl}/services/oauth2/token`), secrets only by dynamic reference, and one
 * `AWS::Events::ApiDestination` per distinct request (method and endpoint) with an invocation rate limit.
 * What each change type sends comes from `crmDelivery` (shared/crm/transformer.ts), the same mapping local
 * delivery and `nutcache-cdc rules test` use; `CustomerSyncRule` puts its input transformer, path parameters
 * and headers on the rule target. No Lambda function is involved.
 */
import { SecretValue } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import { Construct } from 'constructs';
import {
  type CrmTarget,
  type HubSpotTarget,
  rateLimitSchema,
  type SalesforceTarget,
} from '../../shared/crm/model.ts';
import { type CrmDelivery, crmDelivery } from '../../shared/crm/transformer.ts';
import type { ChangeType } from '../../shared/events/contract.ts';

/** EventBridge's documented default invocation rate of an API destination (AWS::Events::ApiDestination). */
export const DEFAULT_CRM_RATE_LIMIT_PER_SECOND = 300;

/** The change types that send the same request: upserts, then the deletion. */
const REQUEST_GROUPS: readonly (readonly ChangeType[])[] = [['created', 'updated', 'snapshot'], ['deleted']];

/** The events of some change types and the request each of them sends. */
export interface CrmRequestPlan {
  readonly changeTypes: readonly ChangeType[];
  readonly delivery: CrmDelivery;
}

/**
 * The requests a CRM rule sends, grouped by identical request: the upsert for created, updated and snapshot
 * events, and the deletion's request (absent with `onDelete: ignore`). An input transformer has no
 * conditionals, so each group needs its own EventBridge rule.
 */
export function crmRequestPlans(target: CrmTarget, changeTypes: readonly ChangeType[]): CrmRequestPlan[] {
  return REQUEST_GROUPS.flatMap((group) => {
    const types = group.filter((type) => changeTypes.includes(type));
    const [first] = types;
    const delivery = first === undefined ? undefined : crmDelivery(target, first);
    return delivery ? [{ changeTypes: types, delivery }] : [];
  });
}

export interface CrmDestinationProps {
  readonly target: CrmTarget;
  /** The sync rule's name (descriptions, errors). */
  readonly ruleName: string;
  /** The most requests per second EventBridge sends to the CRM. @default 300 (EventBridge's default) */
  readonly rateLimitPerSecond?: number;
}

/** The connection to one CRM, and its API destinations (one per distinct method and endpoint). */
export class CrmDestination extends Construct {
  readonly connection: events.Connection;
  private readonly destinations = new Map<string, events.ApiDestination>();
  private readonly props: CrmDestinationProps;

  constructor(scope: Construct, id: string, props: CrmDestinationProps) {
    super(scope, id);
    const rate = rateLimitSchema.optional().safeParse(props.rateLimitPerSecond);
    if (!rate.success) {
      throw new Error(`sync rule '${props.ruleName}': ${rate.error.issues.map((i) => i.message).join('; ')}`);
    }
    this.props = props;
    this.connection = new events.Connection(this, 'Connection', {
      description: `nutcache-cdc sync rule ${props.ruleName}: ${props.target.type} authorization`,
      authorization: crmAuthorization(props.target, props.ruleName),
    });
  }

  /** The API destination of a request (created on first use). */
  destinationFor(delivery: CrmDelivery): events.ApiDestination {
    const key = `${delivery.httpMethod} ${delivery.endpoint}`;
    let destination = this.destinations.get(key);
    if (!destination) {
      requireHttps(delivery.endpoint, this.props.ruleName);
      destination = new events.ApiDestination(this, `Destination${this.destinations.size + 1}`, {
        connection: this.connection,
        endpoint: delivery.endpoint,
        httpMethod: events.HttpMethod[delivery.httpMethod],
        rateLimitPerSecond: this.props.rateLimitPerSecond ?? DEFAULT_CRM_RATE_LIMIT_PER_SECOND,
        description: `nutcache-cdc sync rule ${this.props.ruleName}: ${key}`,
      });
      this.destinations.set(key, destination);
    }
    return destination;
  }
}

/** API destinations only call https endpoints (the CRM model also allows loopback http, for local runs). */
function requireHttps(url: string, ruleName: string): void {
  if (!url.startsWith('https://')) {
    throw new Error(
      `sync rule '${ruleName}': a deployed CRM target needs an https:// URL (${url}); http is for local runs only`,
    );
  }
}

function crmAuthorization(target: CrmTarget, ruleName: string): events.Authorization {
  return target.type === 'hubspot'
    ? hubspotAuthorization(target, ruleName)
    : salesforceAuthorization(target, ruleName);
}

/** HubSpot private-app token as `Authorization: Bearer <token>`, the token read by dynamic reference. */
function hubspotAuthorization(target: HubSpotTarget, ruleName: string): events.Authorization {
  if (!target.tokenSecretArn) {
    throw new Error(
      `sync rule '${ruleName}': a deployed HubSpot target needs tokenSecretArn (the secret holding the private-app token; docs/deploy.md)`,
    );
  }
  const token = SecretValue.secretsManager(target.tokenSecretArn);
  // `Bearer {{resolve:secretsmanager:…}}`: CloudFormation resolves the reference; no plaintext in the template.
  return events.Authorization.apiKey(
    'Authorization',
    SecretValue.unsafePlainText(`Bearer ${token.unsafeUnwrap()}`),
  );
}

/** Salesforce connected app: OAuth client credentials, the client secret read by dynamic reference. */
function salesforceAuthorization(target: SalesforceTarget, ruleName: string): events.Authorization {
  if (!target.oauth.clientSecretArn) {
    throw new Error(
      `sync rule '${ruleName}': a deployed Salesforce target needs oauth.clientSecretArn (the connected app's client secret; docs/deploy.md)`,
    );
  }
  const tokenUrl = target.oauth.tokenUrl ?? `${target.instanceUrl.replace(/\/+$/, '')}/services/oauth2/token`;
  requireHttps(tokenUrl, ruleName);
  return events.Authorization.oauth({
    authorizationEndpoint: tokenUrl,
    httpMethod: events.HttpMethod.POST,
    clientId: target.oauth.clientId,
    clientSecret: SecretValue.secretsManager(target.oauth.clientSecretArn),
    bodyParameters: { grant_type: events.HttpParameter.fromString('client_credentials') },
  });
}
