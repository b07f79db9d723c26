import { ProblemException } from '../common/problem';
import { readIgluRepository } from '../modules/schema-registry/iglu-repository';
import type { SchemasService } from '../modules/schema-registry/schemas.service';

export interface ImportSummary {
  published: string[];
  alreadyThere: string[];
  refused: { uri: string; status: number; reasons: string[] }[];
  skipped: string[];
}

/**
 * Publishes a static Iglu repository's schemas for a tenant, each name's versions in SchemaVer
 * order, through the same checks as the API (SchemasService.publish). A version already published
 * with the same schema counts as already there; anything else refused is listed with every reason.
 * `progress` gets one line per file.
 */
export async function importIgluRepository(
  dir: string,
  tenantId: string,
  schemas: Pick<SchemasService, 'publish' | 'version'>,
  progress: (line: string) => void,
): Promise<ImportSummary> {
  const { files, skipped } = readIgluRepository(dir);
  const summary: ImportSummary = { published: [], alreadyThere: [], refused: [], skipped };
  let n = 0;
  for (const f of files) {
    n++;
    const at = `[${n}/${files.length}] ${f.uri}`;
    if (!f.schema) {
      summary.refused.push({ uri: f.uri, status: 400, reasons: [`${f.path}: ${f.error}`] });
      progress(`${at}: refused (${f.error})`);
      continue;
    }
    try {
      const published = await schemas.publish(tenantId, { uri: f.uri, schema: f.schema });
      summary.published.push(f.uri);
      progress(`${at}: published${published.warnings?.length ? ` with ${published.warnings.length} warning(s)` : ''}`);
    } catch (err) {
      if (!(err instanceof ProblemException)) throw err;
      const body = err.body as { detail: string; reasons?: string[] };
      if (err.getStatus() === 409) {
        const existing = await schemas.version(tenantId, { uri: f.uri });
        if (canonical(existing.schema) === canonical(f.schema)) {
          summary.alreadyThere.push(f.uri);
          progress(`${at}: already there`);
          continue;
        }
        body.reasons = [`a different schema is already published as ${f.uri}; versions are immutable`];
      }
      const reasons = body.reasons ?? [body.detail];
      summary.refused.push({ uri: f.uri, status: err.getStatus(), reasons });
      progress(`${at}: refused (${err.getStatus()}): ${reasons.join('; ')}`);
    }
  }
  return summary;
}

export function describeImport(s: ImportSummary): string {
  const lines = [
    `Imported: ${s.published.length} published, ${s.alreadyThere.length} already there, ${s.refused.length} refused${s.skipped.length ? `, ${s.skipped.length} paths skipped (not schemas/VENDOR/NAME/jsonschema/M-R-A)` : ''}.`,
  ];
  for (const r of s.refused) {
    lines.push(`refused ${r.uri} (${r.status}):`);
    for (const reason of r.reasons) lines.push(`  - ${reason}`);
  }
  for (const p of s.skipped) lines.push(`skipped ${p}`);
  return lines.join('\n');
}

/** JSON with object keys sorted: Postgres's jsonb does not keep the order a file has. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}
