/**
 * The demo's simulator: random edits of a sandbox's customers (create, activate/deactivate, change the
 * e-mail, move city, delete, switch the answers' key casing), each described in words. Used by the local
 * demo (`npm start`) and by `nutcache-cdc sandbox --simulate`.
 */
import type { JsonValue } from '../shared/customer.ts';
import type { SandboxCustomers } from './api.ts';
import type { KeyCasing } from './faults.ts';

/** What the simulator needs of a sandbox: its customers and the key casing of its answers. */
export interface SimulatedSandbox extends SandboxCustomers {
  setKeyCasing(casing: KeyCasing): void;
}

const FIRST_NAMES = [
  'Acme',
  'Globex',
  'Initech',
  'Umbrella',
  'Hooli',
  'Vandelay',
  'Stark',
  'Wayne',
  'Tyrell',
];
const SUFFIXES = ['Inc.', 'Ltd', 'Consulting', 'Studio', 'Group', 'Labs'];
const CITIES = ['Montréal', 'Québec', 'Toronto', 'Paris', 'Lyon', null];
const CASINGS: KeyCasing[] = ['documented', 'lower', 'pascal', 'mixed'];

export interface Simulator {
  step(): string[];
}

/** Random edits of the sandbox's customers, described in words. */
export function simulator(sandbox: SimulatedSandbox, random: () => number): Simulator {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const anyCustomer = () => pick(sandbox.list());
  const actions: (() => string | undefined)[] = [
    () => {
      const name = `${pick(FIRST_NAMES)} ${pick(SUFFIXES)}`;
      const created = sandbox.create({
        name,
        email: `${name.split(' ')[0]?.toLowerCase()}@example.com`,
        status: 0,
      });
      return `created customer ${created.id} '${name}'`;
    },
    () => {
      const c = anyCustomer();
      if (!c) return undefined;
      const status = c.status === 0 ? 1 : 0;
      sandbox.update(c.id, { status });
      return `set status of customer ${c.id} to ${status} (${status === 1 ? 'inactive' : 'active'})`;
    },
    () => {
      const c = anyCustomer();
      if (!c) return undefined;
      const email = `contact${Math.floor(random() * 1000)}@example.com`;
      sandbox.update(c.id, { email });
      return `changed e-mail of customer ${c.id}`;
    },
    () => {
      const c = anyCustomer();
      if (!c) return undefined;
      const city: JsonValue = pick(CITIES);
      const phone = random() < 0.5 ? '' : `514-555-${String(Math.floor(random() * 10_000)).padStart(4, '0')}`;
      sandbox.update(c.id, { city, phone });
      return `moved customer ${c.id} to ${city ?? 'no city'} and set the phone`;
    },
    () => {
      const all = sandbox.list();
      if (all.length < 6) return undefined;
      const c = pick(all);
      sandbox.remove(c.id);
      return `deleted customer ${c.id}`;
    },
    () => {
      const casing = pick(CASINGS);
      sandbox.setKeyCasing(casing);
      return `switched the API's key casing to '${typeof casing === 'string' ? casing : 'custom'}' (no event expected)`;
    },
  ];
  return {
    step() {
      const done: string[] = [];
      const n = 1 + Math.floor(random() * 3);
      for (let i = 0; i < n; i++) {
        const said = pick(actions)();
        if (said) done.push(said);
      }
      return done;
    },
  };
}
