/**
 * The registry of organizations: where the CLI, the registrar and the poller find which organizations
 * exist, how often each is polled and whether it is paused. Adapters: `dynamodb.ts` (the single table,
 * in AWS and on the embedded dynalite in local mode).
 */
import type { OrganizationPatch, RegisteredOrganization } from './model.ts';

export class OrganizationExistsError extends Error {
  constructor(readonly organizationGuid: string) {
    super(`organization ${organizationGuid} is already registered`);
    this.name = 'OrganizationExistsError';
  }
}

export class OrganizationNotFoundError extends Error {
  constructor(readonly organizationGuid: string) {
    super(`organization ${organizationGuid} is not registered`);
    this.name = 'OrganizationNotFoundError';
  }
}

/** One page of the registry, in GUID order; `next` is passed back to get the following page. */
export interface RegistryPage {
  readonly organizations: readonly RegisteredOrganization[];
  readonly next?: string;
}

export interface OrganizationRegistry {
  /** The organization (GUID in any case), or undefined when it is not registered. */
  get(organizationGuid: string): Promise<RegisteredOrganization | undefined>;
  /** One page of registered organizations (`limit` per page, default the adapter's). */
  listPage(options?: { next?: string; limit?: number }): Promise<RegistryPage>;
  /** Every registered organization, page by page. */
  list(): AsyncIterable<RegisteredOrganization>;
  /** Registers an organization; throws `OrganizationExistsError` when its GUID is already registered. */
  add(organization: RegisteredOrganization): Promise<void>;
  /**
   * Changes some fields (and `updatedAt`); returns the organization as stored afterwards. Throws
   * `OrganizationNotFoundError` when it is not registered.
   */
  update(organizationGuid: string, patch: OrganizationPatch): Promise<RegisteredOrganization>;
  /** Removes it; returns what was removed, or undefined when it was not registered. */
  remove(organizationGuid: string): Promise<RegisteredOrganization | undefined>;
}

/** Collects every organization of a registry (for small registries and tests). */
export async function listAll(registry: OrganizationRegistry): Promise<RegisteredOrganization[]> {
  const all: RegisteredOrganization[] = [];
  for await (const organization of registry.list()) all.push(organization);
  return all;
}
