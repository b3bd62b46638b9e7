/**
 * The sandbox's customer data: the eight customers of the documented seed page, exactly as documented
 * (same values, same key order, `Organization` and `Notes` capitalised, lower-case `status`), and a
 * deterministic generator of further, realistic customers. Also the in-memory store the server reads.
 */
import type { JsonValue } from '../shared/customer.ts';
import { seededRandom } from '../shared/util/random.ts';

/** One entry of a record's `links` array (a type alias, so it is assignable to JsonValue). */
export type SandboxLink = {
  href: string;
  rel: string;
  type: string;
};

/**
 * A customer as the sandbox stores and (in the documented key casing) serves it. The key order of the
 * seed page is kept: type, id, Organization, name, status, links, email, contact, address, city, zip_code,
 * phone, mobile_phone, country, state, legal_notice, communication_culture_code, Notes, tax. Extra fields
 * given to `create`/`update` (e.g. `currency`) follow.
 */
export interface SandboxCustomer {
  type: 'customers';
  id: number;
  Organization: number;
  name: string | null;
  status: number;
  links: SandboxLink[];
  email: string | null;
  contact: string | null;
  address: string | null;
  city: string | null;
  zip_code: string | null;
  phone: string | null;
  mobile_phone: string | null;
  country: number | null;
  state: string | null;
  legal_notice: string | null;
  communication_culture_code: string | null;
  Notes: string | null;
  tax: number | null;
  [extra: string]: JsonValue;
}

/** Fields for `create`/`update`. Keys are matched case-insensitively (`notes`, `Notes`, `NOTES`). */
export type CustomerInput = Readonly<Record<string, JsonValue | undefined>>;

/** The organization the documented seed customers belong to. */
export const SEED_ORGANIZATION_ID = 1686;

/** Highest id of the documented seed customers; generated customers get larger ids. */
export const SEED_MAX_ID = 153745;

/** First id handed to a generated customer. */
export const FIRST_GENERATED_ID = 160001;

function org(id: number): SandboxLink {
  return { href: `organizations/${id}`, rel: 'organizations', type: 'GET' };
}
function self(id: number): SandboxLink {
  return { href: `customers/${id}`, rel: 'self', type: 'GET' };
}
function countries(id: number): SandboxLink {
  return { href: `countries/${id}`, rel: 'countries', type: 'GET' };
}
function taxes(id: number): SandboxLink {
  return { href: `taxes/${id}`, rel: 'taxes', type: 'GET' };
}

interface SeedFields {
  id: number;
  name: string;
  status: number;
  links: SandboxLink[];
  email: string | null;
  contact: string | null;
  address: string | null;
  phone: string | null;
  country: number | null;
  tax: number | null;
}

function seedRecord(f: SeedFields): SandboxCustomer {
  return {
    type: 'customers',
    id: f.id,
    Organization: SEED_ORGANIZATION_ID,
    name: f.name,
    status: f.status,
    links: f.links,
    email: f.email,
    contact: f.contact,
    address: f.address,
    city: null,
    zip_code: null,
    phone: f.phone,
    mobile_phone: null,
    country: f.country,
    state: null,
    legal_notice: null,
    communication_culture_code: null,
    Notes: null,
    tax: f.tax,
  };
}

/** The eight customers of the documented `GET customers` example, in listing order. Returns fresh copies. */
export function documentedCustomers(): SandboxCustomer[] {
  const o = SEED_ORGANIZATION_ID;
  return [
    seedRecord({
      id: 143222,
      name: 'Sample client',
      status: 0,
      links: [org(o), countries(40), self(143222)],
      email: '143222@yopmail.com',
      contact: 'Sample contact name',
      address: null,
      phone: '123-456-7890',
      country: 40,
      tax: null,
    }),
    seedRecord({
      id: 143224,
      name: 'Taxable Ont Client',
      status: 0,
      links: [org(o), taxes(375), self(143224)],
      email: '143224@yopmail.com',
      contact: null,
      address: null,
      phone: null,
      country: null,
      tax: 375,
    }),
    seedRecord({
      id: 143225,
      name: 'Taxable QC Client',
      status: 0,
      links: [org(o), taxes(376), self(143225)],
      email: '143225@yopmail.com',
      contact: null,
      address: null,
      phone: null,
      country: null,
      tax: 376,
    }),
    seedRecord({
      id: 147033,
      name: 'Test Client',
      status: 0,
      links: [org(o), self(147033)],
      email: '147033@yopmail.com',
      contact: null,
      address: null,
      phone: null,
      country: null,
      tax: null,
    }),
    seedRecord({
      id: 147504,
      name: 'Client inactif',
      status: 1,
      links: [org(o), self(147504)],
      email: '147504@yopmail.com',
      contact: 'Clientinactif@yopmail.com',
      address: 'Clientinactif@yopmail.com',
      phone: null,
      country: null,
      tax: null,
    }),
    seedRecord({
      id: 149643,
      name: 'client android',
      status: 0,
      links: [org(o), countries(2), self(149643)],
      email: '149643@yopmail.com',
      contact: '',
      address: null,
      phone: '',
      country: 2,
      tax: null,
    }),
    seedRecord({
      id: 153744,
      name: 'Aquaman client',
      status: 0,
      links: [org(o), countries(2), self(153744)],
      email: null,
      contact: null,
      address: null,
      phone: null,
      country: 2,
      tax: null,
    }),
    seedRecord({
      id: 153745,
      name: 'Surprise!',
      status: 0,
      links: [org(o), self(153745)],
      email: null,
      contact: null,
      address: null,
      phone: null,
      country: null,
      tax: null,
    }),
  ];
}

/** The links Nutcache derives from a record's fields: organization, country, tax, self. */
export function linksFor(record: {
  id: number;
  Organization: JsonValue;
  country: JsonValue;
  tax: JsonValue;
}): SandboxLink[] {
  const links: SandboxLink[] = [];
  if (typeof record.Organization === 'number') links.push(org(record.Organization));
  if (typeof record.country === 'number') links.push(countries(record.country));
  if (typeof record.tax === 'number') links.push(taxes(record.tax));
  links.push(self(record.id));
  return links;
}

// ---------------------------------------------------------------------------------------------------
// Deterministic generation

export { seededRandom };

const SURNAMES = [
  'Tremblay',
  'Gagnon',
  'Roy',
  'Côté',
  'Bouchard',
  'Gauthier',
  'Morin',
  'Lavoie',
  'Fortin',
  'Gagné',
  'Ouellet',
  'Pelletier',
  'Smith',
  'Johnson',
  'Williams',
  'Brown',
  'Garcia',
  'Miller',
  'Davis',
  'Martínez',
  'Müller',
  'Schmidt',
  'Dubois',
  'Lefèvre',
  'Rossi',
  'Bianchi',
  'Nakamura',
  "O'Brien",
  'Novak',
  'Kowalski',
];
const FIRST_NAMES = [
  'Marie',
  'Jean',
  'Sophie',
  'Luc',
  'Émilie',
  'Olivier',
  'Chloé',
  'Mathieu',
  'Emma',
  'Noah',
  'Olivia',
  'Liam',
  'Ava',
  'Lucas',
  'Mia',
  'Hugo',
  'Léa',
  'Ethan',
  'Zoé',
  'Samuel',
];
const TRADES = [
  'Consulting',
  'Design',
  'Plumbing',
  'Bakery',
  'Logistics',
  'Studio',
  'Dental Clinic',
  'Architects',
  'Landscaping',
  'Software',
  'Electric',
  'Marketing',
  'Legal',
  'Construction',
  'Catering',
  'Printing',
  'Accounting',
  'Media',
  'Robotics',
  'Outfitters',
];
const SUFFIXES = ['Inc.', 'Ltd', 'LLC', 'SARL', 'GmbH', '& Co.', 'Group', '', '', ''];
const CITIES: readonly { city: string; state: string | null; country: number; culture: string }[] = [
  { city: 'Montréal', state: 'QC', country: 40, culture: 'fr-CA' },
  { city: 'Québec', state: 'QC', country: 40, culture: 'fr-CA' },
  { city: 'Toronto', state: 'ON', country: 40, culture: 'en-CA' },
  { city: 'Vancouver', state: 'BC', country: 40, culture: 'en-CA' },
  { city: 'Paris', state: null, country: 75, culture: 'fr-FR' },
  { city: 'Lyon', state: null, country: 75, culture: 'fr-FR' },
  { city: 'Berlin', state: null, country: 83, culture: 'de-DE' },
  { city: 'New York', state: 'NY', country: 233, culture: 'en-US' },
  { city: 'Austin', state: 'TX', country: 233, culture: 'en-US' },
  { city: 'Bruxelles', state: null, country: 2, culture: 'fr-BE' },
];
const STREETS = ['rue Principale', 'Main Street', 'boulevard Saint-Laurent', 'Oak Avenue', 'rue des Érables'];
const DOMAINS = ['com', 'ca', 'fr', 'de', 'net', 'io'];

function pick<T>(rng: () => number, items: readonly T[]): T {
  const item = items[Math.floor(rng() * items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

function slug(text: string): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

function digits(rng: () => number, n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += String(Math.floor(rng() * 10));
  return out;
}

/**
 * `count` realistic customers of organization `organizationId`, with ids increasing from `firstId`
 * (gaps of 1 to 4, as deleted customers leave). Deterministic: the same arguments give the same records.
 */
export function generateCustomers(
  count: number,
  seed: number,
  organizationId: number = SEED_ORGANIZATION_ID,
  firstId: number = FIRST_GENERATED_ID,
): SandboxCustomer[] {
  const rng = seededRandom(seed);
  const out: SandboxCustomer[] = [];
  let id = firstId;
  for (let i = 0; i < count; i++) {
    if (i > 0) id += 1 + Math.floor(rng() * 4);
    const surname = pick(rng, SURNAMES);
    const trade = pick(rng, TRADES);
    const suffix = pick(rng, SUFFIXES);
    const name = [surname, trade, suffix].filter((s) => s.length > 0).join(' ');
    const place = pick(rng, CITIES);
    const first = pick(rng, FIRST_NAMES);
    const contactSurname = pick(rng, SURNAMES);
    const domain = `${slug(`${surname} ${trade}`)}.${pick(rng, DOMAINS)}`;
    const hasContact = rng() < 0.7;
    const hasEmail = rng() < 0.85;
    const hasAddress = rng() < 0.6;
    const hasPhone = rng() < 0.65;
    const hasMobile = rng() < 0.3;
    const hasCountry = rng() < 0.8;
    const taxRoll = rng();
    const hasNotes = rng() < 0.15;
    const hasCulture = rng() < 0.5;
    const record: SandboxCustomer = {
      type: 'customers',
      id,
      Organization: organizationId,
      name,
      status: rng() < 0.12 ? 1 : 0,
      links: [],
      email: hasEmail ? `${slug(first)}.${slug(contactSurname)}@${domain}` : null,
      contact: hasContact ? `${first} ${contactSurname}` : rng() < 0.3 ? '' : null,
      address: hasAddress ? `${1 + Math.floor(rng() * 9999)} ${pick(rng, STREETS)}` : null,
      city: hasAddress ? place.city : null,
      zip_code: hasAddress
        ? place.country === 40
          ? `H${digits(rng, 1)}A ${digits(rng, 1)}B${digits(rng, 1)}`
          : digits(rng, 5)
        : null,
      phone: hasPhone ? `${digits(rng, 3)}-555-${digits(rng, 4)}` : null,
      mobile_phone: hasMobile ? `+1 ${digits(rng, 3)} 555 ${digits(rng, 4)}` : null,
      country: hasCountry ? place.country : null,
      state: hasAddress ? place.state : null,
      legal_notice: null,
      communication_culture_code: hasCulture ? place.culture : null,
      Notes: hasNotes ? `Prefers invoices by e-mail. Account opened ${2015 + Math.floor(rng() * 10)}.` : null,
      tax: taxRoll < 0.1 ? 375 : taxRoll < 0.2 ? 376 : null,
    };
    record.links = linksFor(record);
    out.push(record);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// The store

function clone<T>(value: T): T {
  return structuredClone(value);
}

/** A blank record with every documented field, in the documented key order. */
function blankRecord(id: number, organizationId: number): SandboxCustomer {
  return {
    type: 'customers',
    id,
    Organization: organizationId,
    name: null,
    status: 0,
    links: [],
    email: null,
    contact: null,
    address: null,
    city: null,
    zip_code: null,
    phone: null,
    mobile_phone: null,
    country: null,
    state: null,
    legal_notice: null,
    communication_culture_code: null,
    Notes: null,
    tax: null,
  };
}

/** The customers of one organization, kept sorted by id (the listing order). */
export class CustomerStore {
  readonly organizationId: number;
  readonly #initial: readonly SandboxCustomer[];
  /** Sorted by id ascending. */
  #records: SandboxCustomer[] = [];
  /** The largest id ever held (deleted ones included): new customers get larger ids. */
  #highestId = 0;
  #byId = new Map<number, SandboxCustomer>();

  constructor(organizationId: number, initial: readonly SandboxCustomer[]) {
    this.organizationId = organizationId;
    this.#initial = initial.map(clone);
    this.reset();
  }

  /** Restores the records the store started with. */
  reset(): void {
    this.#records = this.#initial.map(clone).sort((a, b) => a.id - b.id);
    this.#highestId = this.#records.reduce((max, r) => Math.max(max, r.id), 0);
    this.#byId = new Map(this.#records.map((r) => [r.id, r]));
    if (this.#byId.size !== this.#records.length)
      throw new Error('duplicate customer ids in the sandbox data');
  }

  get size(): number {
    return this.#records.length;
  }

  /** A copy of every record, in listing order. */
  list(): SandboxCustomer[] {
    return this.#records.map(clone);
  }

  get(id: number): SandboxCustomer | undefined {
    const r = this.#byId.get(id);
    return r ? clone(r) : undefined;
  }

  /** The stored records (not copies) from `offset`, at most `count`: for the server's listing only. */
  slice(offset: number, count: number): readonly SandboxCustomer[] {
    return this.#records.slice(offset, offset + count);
  }

  /** The stored record (not a copy): for the server only. */
  peek(id: number): SandboxCustomer | undefined {
    return this.#byId.get(id);
  }

  /**
   * Adds a customer. `id` may be given (it must be a positive integer not in use; a small id puts the
   * customer at the front of the listing); otherwise it is one more than the largest id ever held, so an
   * id is never handed out twice (as in Nutcache, whose ids come from a sequence). Other fields
   * default to the documented blanks (null, status 0), `name` to "Customer <id>"; links are derived.
   */
  create(input: CustomerInput = {}): SandboxCustomer {
    const requested = input.id;
    let id: number;
    if (requested === undefined || requested === null) {
      const last = this.#records[this.#records.length - 1];
      id = Math.max(last ? last.id : 0, SEED_MAX_ID, this.#highestId) + 1;
    } else if (typeof requested === 'number' && Number.isSafeInteger(requested) && requested > 0) {
      id = requested;
    } else {
      throw new Error(`customer id must be a positive integer, got ${JSON.stringify(requested)}`);
    }
    if (this.#byId.has(id)) throw new Error(`customer ${id} already exists`);
    const record = blankRecord(id, this.organizationId);
    record.name = `Customer ${id}`;
    const { id: _ignored, ...rest } = input;
    applyPatch(record, rest);
    if (!hasKey(input, 'links')) record.links = linksFor(record);
    const at = this.#insertionIndex(id);
    this.#records.splice(at, 0, record);
    this.#byId.set(id, record);
    this.#highestId = Math.max(this.#highestId, id);
    return clone(record);
  }

  /** Changes fields of a customer (keys matched case-insensitively); links are re-derived. Throws if absent. */
  update(id: number, patch: CustomerInput): SandboxCustomer {
    const record = this.#byId.get(id);
    if (!record) throw new Error(`customer ${id} does not exist`);
    for (const key of Object.keys(patch)) {
      const k = key.toLowerCase();
      if (k === 'id' || k === 'type') throw new Error(`customer field '${key}' cannot be changed`);
    }
    applyPatch(record, patch);
    if (!hasKey(patch, 'links')) record.links = linksFor(record);
    return clone(record);
  }

  /** Deletes a customer; false when there was none with this id. */
  remove(id: number): boolean {
    const record = this.#byId.get(id);
    if (!record) return false;
    this.#byId.delete(id);
    this.#records.splice(this.#insertionIndex(id), 1);
    return true;
  }

  /** The index of the first record whose id is >= `id` (binary search). */
  #insertionIndex(id: number): number {
    let lo = 0;
    let hi = this.#records.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const r = this.#records[mid];
      if (r && r.id < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

function hasKey(input: CustomerInput, name: string): boolean {
  return Object.keys(input).some((k) => k.toLowerCase() === name);
}

/** Sets each patched field on the record under the record's own spelling of the key, if it has one. */
function applyPatch(record: SandboxCustomer, patch: CustomerInput): void {
  const existing = new Map(Object.keys(record).map((k) => [k.toLowerCase(), k]));
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    const target = existing.get(key.toLowerCase()) ?? key;
    if (target === 'links') {
      record.links = linksSchemaCheck(value);
      continue;
    }
    record[target] = clone(value);
  }
}

function linksSchemaCheck(value: JsonValue): SandboxLink[] {
  if (!Array.isArray(value)) throw new Error('links must be an array');
  return value.map((l) => {
    if (
      l === null ||
      typeof l !== 'object' ||
      Array.isArray(l) ||
      typeof l.href !== 'string' ||
      typeof l.rel !== 'string' ||
      typeof l.type !== 'string'
    ) {
      throw new Error('each link needs string href, rel and type');
    }
    return { href: l.href, rel: l.rel, type: l.type };
  });
}
