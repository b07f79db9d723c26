import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { join } from 'node:path';
import Ajv, { ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { load } from 'js-yaml';

/**
 * The contract check of the integration suites: every answer a test's api gives is compared with
 * what openapi.yaml declares for its operation and status. A status the operation does not list, a
 * content type it does not declare for that status, or a JSON body its schema refuses is a
 * violation; the suite's afterEach (contract-setup.ts) fails the test that caused it.
 */

interface SpecResponse {
  content?: Record<string, { schema?: unknown }>;
}
interface SpecOperation {
  operationId: string;
  responses: Record<string, SpecResponse>;
}
interface Operation {
  method: string;
  template: string;
  pattern: RegExp;
  op: SpecOperation;
}

export interface ContractViolation {
  operation: string;
  request: string;
  status: number;
  problem: string;
}

const SPEC_FILE = join(__dirname, '..', '..', 'openapi.yaml');
const MAX_CAPTURE = 4 * 1024 * 1024;

let compiled: { operations: Operation[]; ajv: Ajv } | null = null;
const validators = new Map<string, ValidateFunction>();
const violations: ContractViolation[] = [];
const checked = new Set<string>();

function spec(): { operations: Operation[]; ajv: Ajv } {
  if (compiled) return compiled;
  const doc = load(readFileSync(SPEC_FILE, 'utf8')) as { paths: Record<string, Record<string, SpecOperation>> };
  // The whole document is one schema, so the answers' `#/components/schemas/...` references resolve.
  const ajv = new Ajv({ strict: false, allErrors: true, $data: false });
  addFormats(ajv);
  ajv.addSchema(nullableAsJsonSchema(doc) as object, 'openapi');
  const operations: Operation[] = [];
  for (const [template, item] of Object.entries(doc.paths)) {
    const source = template.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\\\{[^}]+\\\}/g, '[^/]+');
    for (const [method, op] of Object.entries(item)) {
      operations.push({ method: method.toUpperCase(), template, pattern: new RegExp(`^${source}$`), op });
    }
  }
  // Literal segments before parameters: /schemas/version is not /schemas/{id}.
  const params = (t: string) => t.split('{').length;
  operations.sort((a, b) => params(a.template) - params(b.template));
  compiled = { operations, ajv };
  return compiled;
}

/**
 * OpenAPI 3.0's `nullable: true` on an `allOf` (a nullable reference), where Ajv's own nullable
 * widens only `type` and the referenced schema still refuses null, as JSON Schema says it: the
 * schema, or null.
 */
function nullableAsJsonSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(nullableAsJsonSchema);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) out[k] = nullableAsJsonSchema(v);
  if (out.nullable === true && (out.type === undefined || out.allOf !== undefined)) {
    const { nullable: _nullable, ...rest } = out;
    return { anyOf: [rest, { type: 'null' }] };
  }
  return out;
}

const pointer = (...segments: string[]) => segments.map((s) => s.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

function validatorFor(o: Operation, status: string, media: string): ValidateFunction {
  const key = `${o.method} ${o.template} ${status} ${media}`;
  let v = validators.get(key);
  if (!v) {
    const ref = `openapi#/${pointer('paths', o.template, o.method.toLowerCase(), 'responses', status, 'content', media, 'schema')}`;
    v = spec().ajv.compile({ $ref: ref });
    validators.set(key, v);
  }
  return v;
}

/** The violations of one answer, if any. */
export function checkAnswer(
  method: string,
  url: string,
  status: number,
  contentType: string | undefined,
  body: Buffer | null,
  record = false,
): ContractViolation[] {
  // Both HTTP lanes route /events/ as /events.
  const path = url.split('?')[0].replace(/(.)\/+$/, '$1');
  const o = spec().operations.find((x) => x.method === method && x.pattern.test(path));
  const request = `${method} ${url.slice(0, 120)}`;
  if (!o) {
    // Pages outside the API (docs, Bull Board, the admin pages) and unknown routes are not operations.
    if (path.startsWith('/api/v1/') && status < 400 && method !== 'OPTIONS') {
      return [{ operation: '-', request, status, problem: 'an answer for a route openapi.yaml does not describe' }];
    }
    return [];
  }
  const v = (problem: string): ContractViolation[] => [{ operation: o.op.operationId, request, status, problem }];
  if (record) checked.add(`${o.op.operationId} ${status}`);
  const declared = o.op.responses[String(status)];
  if (!declared) return v(`status ${status} is not declared (declared: ${Object.keys(o.op.responses).join(', ')})`);
  const media = (contentType ?? '').split(';')[0].trim().toLowerCase();
  const content = declared.content ?? {};
  const isJson = (m: string) => m === 'application/json' || m.endsWith('+json');
  if (!body?.length) {
    // An empty JSON answer is never right; an empty stream (an export of nothing) is.
    const expectsJson = Object.keys(content).some(isJson) && !content[media];
    return expectsJson && method !== 'HEAD' ? v('an empty body where JSON is declared') : [];
  }
  if (!content[media]) {
    return v(
      `content type ${media || '(none)'} is not declared for ${status} (declared: ${Object.keys(content).join(', ') || 'none'})`,
    );
  }
  if (!isJson(media)) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return v(`the body is not JSON although its content type is ${media}`);
  }
  const validate = validatorFor(o, String(status), media);
  if (validate(parsed)) return [];
  const errors = (validate.errors ?? [])
    .slice(0, 5)
    .map((e) => `${e.instancePath || '/'} ${e.message}`)
    .join('; ');
  return v(`the body does not match the declared schema: ${errors}; body: ${body.toString('utf8').slice(0, 300)}`);
}

/** Checks every answer of this server against openapi.yaml from now on. */
export function watchContract(server: Server): void {
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const keep = (chunk: unknown, encoding?: unknown) => {
      if (chunk === undefined || chunk === null || typeof chunk === 'function' || size > MAX_CAPTURE) return;
      const b = Buffer.isBuffer(chunk)
        ? chunk
        : Buffer.from(chunk as string, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
      size += b.length;
      chunks.push(Buffer.from(b));
    };
    const write = res.write.bind(res) as (...args: unknown[]) => boolean;
    const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
    res.write = ((...args: unknown[]) => {
      keep(args[0], args[1]);
      return write(...args);
    }) as typeof res.write;
    res.end = ((...args: unknown[]) => {
      keep(args[0], args[1]);
      return end(...args);
    }) as typeof res.end;
    res.once('finish', () => {
      // Headers given to writeHead (the ingest route's) are only in the header block written.
      const written = /^content-type:\s*(.+?)\r?$/im.exec((res as unknown as { _header?: string })._header ?? '');
      const ct = res.getHeader('content-type') ?? written?.[1];
      violations.push(
        ...checkAnswer(
          req.method ?? 'GET',
          req.url ?? '/',
          res.statusCode,
          Array.isArray(ct) ? ct[0] : ct === undefined ? undefined : String(ct),
          size > MAX_CAPTURE ? null : Buffer.concat(chunks),
          true,
        ),
      );
    });
  });
}

/** The violations seen since the last call. */
export function takeContractViolations(): ContractViolation[] {
  return violations.splice(0, violations.length);
}

/** Operation and status pairs the watched servers answered so far in this process. */
export function checkedAnswers(): ReadonlySet<string> {
  return checked;
}

export function describeViolations(list: ContractViolation[]): string {
  return [
    `${list.length} answer(s) do not match openapi.yaml:`,
    ...list.slice(0, 10).map((x) => `  ${x.operation} (${x.request}) → ${x.status}: ${x.problem}`),
  ].join('\n');
}
