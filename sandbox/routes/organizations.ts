/** The organizations listing (`GET /webapi/organizations`). */
import { type Answer, json } from '../http.ts';
import type { SandboxState } from '../state.ts';

export function organizationsAnswer(state: SandboxState): Answer {
  return json(200, {
    organizations: state.organizations.map((o) => ({
      type: 'organizations',
      id: o.id,
      guid: o.guid,
      name: o.name,
      links: [{ href: `organizations/${o.id}`, rel: 'self', type: 'GET' }],
    })),
  });
}
