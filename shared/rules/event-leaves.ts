/**
 * An event seen as EventBridge (Event Ruler) sees it: the leaf values at each dotted path, each with the
 * array elements it came from. Objects are not leaves; arrays are looked through at every level, and every
 * array met on the way gets an identity so that a match can require all its fields to come from the same
 * element of an array of objects.
 */

/** A JSON scalar: what a pattern can compare. */
export type Scalar = string | number | boolean | null;

export interface Leaf {
  readonly value: Scalar;
  /** For each array on the way to the value: that array's identity and the index of the element. */
  readonly elements: ReadonlyMap<number, number>;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether two leaves can come from one choice of array elements (equal indices for shared arrays). */
export function consistent(a: ReadonlyMap<number, number>, b: ReadonlyMap<number, number>): boolean {
  for (const [array, index] of a) {
    const other = b.get(array);
    if (other !== undefined && other !== index) return false;
  }
  return true;
}

/** All leaves of an event by path (keys joined with '.', as Event Ruler names fields). */
export function eventLeaves(event: unknown): ReadonlyMap<string, readonly Leaf[]> {
  const byPath = new Map<string, Leaf[]>();
  let nextArray = 0;
  const visit = (node: unknown, path: string, elements: ReadonlyMap<number, number>): void => {
    if (Array.isArray(node)) {
      const id = nextArray++;
      for (const [index, element] of node.entries()) visit(element, path, new Map(elements).set(id, index));
    } else if (isObject(node)) {
      for (const [key, child] of Object.entries(node)) visit(child, path ? `${path}.${key}` : key, elements);
    } else if (path !== '') {
      const leaves = byPath.get(path) ?? [];
      leaves.push({ value: node as Scalar, elements });
      byPath.set(path, leaves);
    }
  };
  visit(event, '', new Map());
  return byPath;
}
