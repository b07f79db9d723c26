import { isUuid } from '../common/validation';
import { parseArgs } from 'node:util';
import { parseScopes, Scope } from '../modules/auth/api-key';

/**
 * The CLI's commands and the checks of their flags. Everything here runs before the database is
 * touched: a mistake on the command line is answered from the arguments alone, with exit code 2.
 */

/** A mistake on the command line: printed with the usage of the command, exit code 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly usage: string,
  ) {
    super(message);
  }
}

type FlagType = 'string' | 'boolean';

interface CommandSpec {
  /** The command's line in the usage text (the continuation lines are indented). */
  usage: string;
  flags: Record<string, FlagType>;
}

export const COMMANDS = {
  'tenant:list': { usage: 'tenant:list   [--json]', flags: { json: 'boolean' } },
  'tenant:create': {
    usage: 'tenant:create --name NAME [--id UUID] [--operator] [--rps N] [--eps N] [--cors ORIGIN,ORIGIN]',
    flags: { name: 'string', id: 'string', operator: 'boolean', rps: 'string', eps: 'string', cors: 'string' },
  },
  'tenant:update': {
    usage:
      'tenant:update --tenant UUID [--rps N|default] [--eps N|default] [--cors ORIGIN,ORIGIN|none]\n' +
      '              [--validation-mode reject|quarantine] [--retention-days N|default]\n' +
      '              [--pseudonymize on|off] [--redact-keys KEY,KEY|none]',
    flags: {
      tenant: 'string',
      rps: 'string',
      eps: 'string',
      cors: 'string',
      'validation-mode': 'string',
      'retention-days': 'string',
      pseudonymize: 'string',
      'redact-keys': 'string',
    },
  },
  'key:create': {
    usage: 'key:create    --tenant UUID --scopes ingest,report,admin [--name LABEL]',
    flags: { tenant: 'string', scopes: 'string', name: 'string' },
  },
  'key:list': { usage: 'key:list      [--tenant UUID]', flags: { tenant: 'string' } },
  'key:revoke': { usage: 'key:revoke    --key KEY_ID_OR_KEY', flags: { key: 'string' } },
  'schemas:import': {
    usage: 'schemas:import DIR --tenant UUID   (a static Iglu repository: schemas/VENDOR/NAME/jsonschema/M-R-A)',
    flags: { tenant: 'string' },
  },
} satisfies Record<string, CommandSpec>;

export type CommandName = keyof typeof COMMANDS;

const indent = (s: string) => s.replace(/^/gm, '  ');

export const USAGE = `Usage: npm run cli -- <command> [options]

Commands:
${indent(
  Object.values(COMMANDS as Record<string, CommandSpec>)
    .map((c) => c.usage)
    .join('\n'),
)}
  help [COMMAND]

A key is printed once, when it is created; only its hash is stored.
Exit codes: 0 done, 1 failed (also a tenant or key that does not exist), 2 a mistake in the command line.`;

export function commandUsage(command: CommandName): string {
  const prefix = `Usage: npm run cli -- ${command} `;
  const [first, ...more] = COMMANDS[command].usage.split('\n').map((line) => line.trim());
  return [prefix + first.slice(command.length).trim(), ...more.map((line) => ' '.repeat(prefix.length) + line)].join(
    '\n',
  );
}

const PG_INT_MAX = 2147483647;

/** A command with its flags checked and converted; what the database is then asked. */
export type Parsed =
  | { command: 'help'; text: string }
  | { command: 'tenant:list'; json: boolean }
  | {
      command: 'tenant:create';
      id?: string;
      name: string;
      isOperator: boolean;
      rateLimitRps?: number;
      rateLimitEps?: number;
      corsOrigins?: string[];
    }
  | {
      command: 'tenant:update';
      tenantId: string;
      patch: {
        rateLimitRps?: number | null;
        rateLimitEps?: number | null;
        corsOrigins?: string[];
        validationMode?: 'reject' | 'quarantine';
        retentionDays?: number | null;
        pseudonymizeUserId?: boolean;
        redactKeys?: string[];
      };
    }
  | { command: 'key:create'; tenantId: string; scopes: Scope[]; name: string | null }
  | { command: 'key:list'; tenantId?: string }
  | { command: 'key:revoke'; keyId: string }
  | { command: 'schemas:import'; tenantId: string; dir: string };

function isCommand(name: string): name is CommandName {
  return Object.prototype.hasOwnProperty.call(COMMANDS, name);
}

/** Checks the command line; throws UsageError naming the first mistake. */
export function parseCommandLine(argv: string[]): Parsed {
  const [command, ...rest] = argv;
  if (command === undefined) throw new UsageError('no command given', USAGE);
  if (command === 'help' || command === '--help' || command === '-h') {
    const about = rest[0];
    if (about === undefined) return { command: 'help', text: USAGE };
    if (!isCommand(about)) throw new UsageError(`unknown command "${about}"`, USAGE);
    return { command: 'help', text: commandUsage(about) };
  }
  if (!isCommand(command)) throw new UsageError(`unknown command "${command}"`, USAGE);
  if (rest.includes('--help') || rest.includes('-h')) return { command: 'help', text: commandUsage(command) };

  const usage = commandUsage(command);
  // schemas:import takes its directory as the first argument.
  const dir = command === 'schemas:import' && rest[0] !== undefined && !rest[0].startsWith('-') ? rest[0] : undefined;
  const v = readFlags(command, dir === undefined ? rest : rest.slice(1), usage);
  const fail = (message: string): never => {
    throw new UsageError(message, usage);
  };
  const need = (flag: string): string => {
    const value = v[flag];
    if (typeof value !== 'string') return fail(`--${flag} is required`);
    return value;
  };
  const str = (flag: string): string | undefined => v[flag] as string | undefined;
  const tenant = (value: string): string =>
    isUuid(value) ? value.toLowerCase() : fail('--tenant must be a tenant id (a UUID); see npm run cli -- tenant:list');

  switch (command) {
    case 'tenant:list':
      return { command, json: v.json === true };
    case 'tenant:create': {
      const id = str('id');
      if (id !== undefined && !isUuid(id)) fail(`--id must be a UUID (got "${String(id)}")`);
      const name = need('name').trim();
      if (!name) fail('--name must not be empty');
      return {
        command,
        id: id?.toLowerCase(),
        name,
        isOperator: v.operator === true,
        rateLimitRps: positiveInt(str('rps'), '--rps', true, fail) ?? undefined,
        rateLimitEps: positiveInt(str('eps'), '--eps', true, fail) ?? undefined,
        corsOrigins: origins(str('cors'), fail),
      };
    }
    case 'tenant:update': {
      const tenantId = tenant(need('tenant'));
      const mode = str('validation-mode');
      if (mode !== undefined && mode !== 'reject' && mode !== 'quarantine')
        fail(`--validation-mode must be reject or quarantine (got "${mode}")`);
      const retention = positiveInt(str('retention-days'), '--retention-days', true, fail);
      if (typeof retention === 'number' && retention > 3650) fail('--retention-days must be at most 3650');
      const pseudo = str('pseudonymize');
      if (pseudo !== undefined && pseudo !== 'on' && pseudo !== 'off')
        fail(`--pseudonymize must be on or off (got "${pseudo}")`);
      const redact = str('redact-keys');
      return {
        command,
        tenantId,
        patch: {
          rateLimitRps: positiveInt(str('rps'), '--rps', true, fail),
          rateLimitEps: positiveInt(str('eps'), '--eps', true, fail),
          corsOrigins: origins(str('cors'), fail),
          validationMode: mode as 'reject' | 'quarantine' | undefined,
          retentionDays: retention,
          pseudonymizeUserId: pseudo === undefined ? undefined : pseudo === 'on',
          redactKeys:
            redact === undefined
              ? undefined
              : redact === 'none'
                ? []
                : redact
                    .split(',')
                    .map((k) => k.trim().toLowerCase().replace(/-/g, '_'))
                    .filter(Boolean),
        },
      };
    }
    case 'key:create': {
      const tenantId = tenant(need('tenant'));
      let scopes: Scope[] = [];
      try {
        scopes = parseScopes(need('scopes'));
      } catch (err) {
        if (err instanceof UsageError) throw err;
        fail((err as Error).message);
      }
      const name = str('name')?.trim();
      return { command, tenantId, scopes, name: name || null };
    }
    case 'key:list': {
      const t = str('tenant');
      return { command, tenantId: t === undefined ? undefined : tenant(t) };
    }
    case 'key:revoke': {
      const key = need('key');
      const id = /^[0-9a-f]{12}$/.test(key) ? key : /^ak_([0-9a-f]{12})_\S+$/.exec(key)?.[1];
      if (!id) fail('--key must be a key id (12 hex digits, as key:list shows) or a whole key (ak_…)');
      return { command, keyId: id! };
    }
    case 'schemas:import': {
      if (dir === undefined) fail('name the directory of the Iglu repository: schemas:import DIR --tenant UUID');
      return { command, tenantId: tenant(need('tenant')), dir: dir! };
    }
  }
}

/** Flags of the command only, each string flag with a value and each boolean flag without one. */
function readFlags(command: CommandName, args: string[], usage: string): Record<string, string | boolean> {
  const spec: Record<string, FlagType> = COMMANDS[command].flags;
  const fail = (message: string): never => {
    throw new UsageError(message, usage);
  };
  const { tokens } = parseArgs({
    args,
    options: Object.fromEntries(Object.entries(spec).map(([name, type]) => [name, { type }])),
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const values: Record<string, string | boolean> = {};
  for (const t of tokens) {
    if (t.kind === 'positional') fail(`unexpected argument "${t.value}"`);
    if (t.kind !== 'option') continue;
    const type = Object.prototype.hasOwnProperty.call(spec, t.name) ? spec[t.name] : undefined;
    if (!type) {
      const known = Object.keys(spec).map((f) => `--${f}`);
      fail(`${command} has no option ${t.rawName}; its options are ${known.join(', ')}`);
    }
    if (type === 'boolean') {
      if (t.value !== undefined) fail(`--${t.name} takes no value (got "${t.value}")`);
      values[t.name] = true;
      continue;
    }
    // A string flag followed directly by another flag has no value ("--tenant --scopes ingest").
    if (t.value === undefined || t.value === '' || (!t.inlineValue && t.value.startsWith('--')))
      fail(`--${t.name} needs a value`);
    values[t.name] = t.value!;
  }
  return values;
}

/** A positive integer that fits the database's integer, or (allowDefault) null for "default". */
function positiveInt(
  v: string | undefined,
  flag: string,
  allowDefault: boolean,
  fail: (m: string) => never,
): number | null | undefined {
  if (v === undefined) return undefined;
  if (allowDefault && v === 'default') return null;
  const expected = `a positive integer${allowDefault ? ' or "default"' : ''}`;
  const trimmed = v.trim();
  if (trimmed === '' || !Number.isFinite(Number(trimmed))) fail(`${flag} must be a number, ${expected} (got "${v}")`);
  if (!/^\d+$/.test(trimmed) || Number(trimmed) < 1) fail(`${flag} must be ${expected} (got "${v}")`);
  const n = Number(trimmed);
  if (n > PG_INT_MAX) fail(`${flag} must be at most ${PG_INT_MAX} (got "${v}")`);
  return n;
}

function origins(v: string | undefined, fail: (m: string) => never): string[] | undefined {
  if (v === undefined) return undefined;
  if (v === 'none') return [];
  const list = v
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  for (const o of list) {
    if (o !== '*' && !/^https?:\/\/[^/\s]+$/.test(o))
      fail(`--cors takes origins like https://shop.example.com (no path); got "${o}"`);
  }
  return list;
}
