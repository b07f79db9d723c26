import { FunnelQuery, PropertyFilter } from './funnel-request';

/**
 * Which steps and exclusions an event matches: its name is one of the step's names and every filter
 * holds on its attributes. eq, in: the same JSON value (5 is not "5"); neq: anything else, a missing
 * attribute included; gt, lt: a number above or below; exists: present and not null.
 */
export function filterHolds(f: PropertyFilter, v: unknown): boolean {
  switch (f.op) {
    case 'eq':
      return v === f.value;
    case 'neq':
      return v !== f.value;
    case 'in':
      return (f.value as unknown[]).includes(v);
    case 'gt':
      return typeof v === 'number' && v > (f.value as number);
    case 'lt':
      return typeof v === 'number' && v < (f.value as number);
    case 'exists':
      return v !== undefined && v !== null;
  }
}

/** The attributes the query reads per event: filters' first, then the breakdown's. */
export function attributeKeys(q: FunnelQuery): string[] {
  const keys = new Set<string>();
  for (const s of [...q.steps, ...q.exclusions]) for (const f of s.where) keys.add(f.attribute);
  for (const p of q.breakdown) if (p.startsWith('attributes.')) keys.add(p.slice('attributes.'.length));
  return [...keys];
}

/** The event names the query needs to read, or null for every event (strict order sees all of them). */
export function eventNames(q: FunnelQuery): string[] | null {
  if (q.order === 'strict') return null;
  return [...new Set([...q.steps, ...q.exclusions].flatMap((s) => s.events))];
}

/** A function from an event (name, and its attributes in `keys` order) to its step and exclusion bits. */
export function compileMatcher(q: FunnelQuery, keys: string[]): (name: string, attrs: unknown[]) => [number, number] {
  const compile = (s: { events: string[]; where: PropertyFilter[] }) => {
    const names = new Set(s.events);
    const where = s.where.map((f) => ({ f, i: keys.indexOf(f.attribute) }));
    return (name: string, attrs: unknown[]) => names.has(name) && where.every(({ f, i }) => filterHolds(f, attrs[i]));
  };
  const steps = q.steps.map(compile);
  const exclusions = q.exclusions.map(compile);
  return (name, attrs) => {
    let s = 0;
    let x = 0;
    for (let i = 0; i < steps.length; i++) if (steps[i](name, attrs)) s |= 1 << i;
    for (let i = 0; i < exclusions.length; i++) if (exclusions[i](name, attrs)) x |= 1 << i;
    return [s, x];
  };
}
