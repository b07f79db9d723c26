/** SchemaVer MODEL-REVISION-ADDITION, as Snowplow's Iglu defines it. */
export interface SchemaVer {
  model: number;
  revision: number;
  addition: number;
}

const VERSION = /^([1-9]\d{0,3})-(0|[1-9]\d{0,3})-(0|[1-9]\d{0,3})$/;
const IGLU = /^iglu:([a-zA-Z0-9_.-]{1,128})\/([a-zA-Z0-9_-]{1,128})\/(jsonschema)\/(\d+-\d+-\d+)$/;

export function parseVersion(s: string): SchemaVer | null {
  const m = VERSION.exec(s);
  return m ? { model: Number(m[1]), revision: Number(m[2]), addition: Number(m[3]) } : null;
}

export function formatVersion(v: SchemaVer): string {
  return `${v.model}-${v.revision}-${v.addition}`;
}

export function compareVersions(a: SchemaVer, b: SchemaVer): number {
  return a.model - b.model || a.revision - b.revision || a.addition - b.addition;
}

/** The bump from `from` to `to`, or null when `to` is not a single SchemaVer step. */
export function bumpKind(from: SchemaVer, to: SchemaVer): 'model' | 'revision' | 'addition' | null {
  if (to.model === from.model + 1 && to.revision === 0 && to.addition === 0) return 'model';
  if (to.model === from.model && to.revision === from.revision + 1 && to.addition === 0) return 'revision';
  if (to.model === from.model && to.revision === from.revision && to.addition === from.addition + 1) return 'addition';
  return null;
}

export interface IgluKey {
  /** vendor/name/format: the schema's name in the registry */
  name: string;
  version: SchemaVer;
}

/** Parses `iglu:vendor/name/jsonschema/M-R-A`; null when it is not one. */
export function parseIgluUri(uri: string): IgluKey | null {
  const m = IGLU.exec(uri);
  if (!m) return null;
  const version = parseVersion(m[4]);
  return version ? { name: `${m[1]}/${m[2]}/${m[3]}`, version } : null;
}

export function igluUri(name: string, v: SchemaVer): string {
  return `iglu:${name}/${formatVersion(v)}`;
}
