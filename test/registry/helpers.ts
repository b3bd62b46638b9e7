/** Test helpers for the registry suites. */
import type { RegisteredOrganization } from '../../shared/registry/model.ts';

/** A valid, distinct organization GUID per number. */
export function guid(n: number): string {
  return `0000${String(n).padStart(4, '0')}-aaaa-bbbb-cccc-${String(n).padStart(12, '0')}`;
}

export function organization(n: number, extra: Partial<RegisteredOrganization> = {}): RegisteredOrganization {
  return {
    organizationGuid: guid(n).toUpperCase(),
    credentials: { kind: 'localFile' },
    everyMinutes: 15,
    apiKeyGroup: 'k-group-one',
    state: 'active',
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    managedBy: 'cli',
    ...extra,
  };
}
