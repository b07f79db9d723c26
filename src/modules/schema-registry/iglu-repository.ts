import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { compareVersions, formatVersion, parseVersion, SchemaVer } from './schema-ver';

/** One schema file of a static Iglu repository. */
export interface IgluFile {
  /** iglu:vendor/name/jsonschema/M-R-A, from the file's path */
  uri: string;
  name: string;
  version: SchemaVer;
  /** relative to the repository's root */
  path: string;
  /** the parsed schema, or why the file could not be read as one */
  schema: Record<string, unknown> | null;
  error?: string;
}

const VENDOR = /^[a-zA-Z0-9_.-]{1,128}$/;
const NAME = /^[a-zA-Z0-9_-]{1,128}$/;

const dirs = (dir: string): string[] =>
  readdirSync(dir)
    .filter((d) => statSync(join(dir, d)).isDirectory())
    .sort();

/**
 * The schemas of a static Iglu repository (`schemas/<vendor>/<name>/jsonschema/<M-R-A>`; `dir`
 * may be the repository or its `schemas` folder), each name's versions in SchemaVer order, names
 * in alphabetical order. Files whose path is not of that layout are reported by `skipped`.
 */
export function readIgluRepository(dir: string): { files: IgluFile[]; skipped: string[] } {
  const root = dirs(dir).includes('schemas') ? join(dir, 'schemas') : dir;
  const files: IgluFile[] = [];
  const skipped: string[] = [];
  for (const vendor of dirs(root)) {
    if (!VENDOR.test(vendor)) {
      skipped.push(relative(dir, join(root, vendor)));
      continue;
    }
    for (const name of dirs(join(root, vendor))) {
      const formatDir = join(root, vendor, name, 'jsonschema');
      if (!NAME.test(name) || !dirs(join(root, vendor, name)).includes('jsonschema')) {
        skipped.push(relative(dir, join(root, vendor, name)));
        continue;
      }
      const versions: IgluFile[] = [];
      for (const file of readdirSync(formatDir).sort()) {
        const path = join(formatDir, file);
        const version = parseVersion(file);
        if (!version || !statSync(path).isFile()) {
          skipped.push(relative(dir, path));
          continue;
        }
        const full = `${vendor}/${name}/jsonschema`;
        const entry: IgluFile = {
          uri: `iglu:${full}/${formatVersion(version)}`,
          name: full,
          version,
          path: relative(dir, path),
          schema: null,
        };
        try {
          const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
          if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed))
            entry.schema = parsed as Record<string, unknown>;
          else entry.error = 'the file is not a JSON object';
        } catch (err) {
          entry.error = `the file is not valid JSON (${(err as Error).message})`;
        }
        versions.push(entry);
      }
      files.push(...versions.sort((a, b) => compareVersions(a.version, b.version)));
    }
  }
  return { files, skipped };
}
