import { parseArgs } from 'node:util';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';

/**
 * Every setting, once: flag name, env var, type, help text. The CLI parser, the env reader,
 * --help and the zod validation are all derived from this table, so they cannot drift apart.
 */
type Command = 'mcp' | 'backend';

interface FlagSpec {
  type: 'string' | 'boolean';
  env?: string;
  help: string;
  /** Commands the flag applies to. */
  for: Command[];
  arg?: string;
}

const both: Command[] = ['mcp', 'backend'];

/** The MCP server's tool groups (kept here so that config stays free of MCP imports). */
export const FEATURE_NAMES = ['metadata', 'database', 'auth', 'storage', 'ai', 'functions'] as const;

export const FLAGS = {
  url: { type: 'string', env: 'INSFORGE_URL', for: ['mcp'], arg: 'URL', help: 'InsForge backend to use. Omit to run the embedded backend.' },
  'api-key': { type: 'string', env: 'INSFORGE_API_KEY', for: both, arg: 'KEY', help: 'Admin API key (with --url), or a fixed admin key for the embedded backend.' },
  'anon-key': { type: 'string', env: 'INSFORGE_ANON_KEY', for: both, arg: 'KEY', help: 'Anon key (with --url), or a fixed anon key for the embedded backend.' },
  http: { type: 'boolean', env: 'INSFORGE_HTTP', for: ['mcp'], help: 'Serve MCP over HTTP (Streamable HTTP at /mcp, legacy SSE at /sse) instead of stdio.' },
  port: { type: 'string', env: 'INSFORGE_PORT', for: both, arg: 'N', help: "Port to listen on (MCP HTTP default 3333; backend: the data dir's kept port, at first 7130)." },
  host: { type: 'string', env: 'INSFORGE_HOST', for: both, arg: 'HOST', help: 'Interface to bind (default 127.0.0.1).' },
  'allowed-origins': { type: 'string', env: 'INSFORGE_ALLOWED_ORIGINS', for: ['mcp'], arg: 'LIST', help: 'Browser origins allowed on the MCP HTTP server besides its own (http://127.0.0.1:PORT, http://localhost:PORT), comma-separated: scheme://host[:port], scheme://host:* (any port) or * (default: none; other localhost ports are refused).' },
  'allowed-hosts': { type: 'string', env: 'INSFORGE_ALLOWED_HOSTS', for: ['mcp'], arg: 'LIST', help: 'Comma-separated Host header values allowed (default: localhost, 127.0.0.1, [::1]).' },
  'http-token': { type: 'string', env: 'INSFORGE_HTTP_TOKEN', for: ['mcp'], arg: 'TOKEN', help: 'Require "Authorization: Bearer TOKEN" on the MCP HTTP server.' },
  stateless: { type: 'boolean', env: 'INSFORGE_STATELESS', for: ['mcp'], help: "With --http: keep no sessions; each request must carry the caller's own Authorization: Bearer (an InsForge key or user token), and acts with it (401 without; the configured keys are never used)." },
  'read-only': { type: 'boolean', env: 'INSFORGE_READ_ONLY', for: ['mcp'], help: 'Offer only tools that write nothing; run-sql runs in a read-only transaction.' },
  features: { type: 'string', env: 'INSFORGE_FEATURES', for: ['mcp'], arg: 'LIST', help: `Tool groups to offer, comma-separated: ${FEATURE_NAMES.join(',')} (default all).` },
  'backend-port': { type: 'string', env: 'INSFORGE_BACKEND_PORT', for: ['mcp'], arg: 'N', help: 'Port of the embedded backend, kept in the data dir for later starts (default: the kept one, at first 7130; a free one for now if another program has it; 0 = random).' },
  'data-dir': { type: 'string', env: 'INSFORGE_DATA_DIR', for: both, arg: 'DIR', help: 'Embedded backend data directory (default $XDG_DATA_HOME/insforge-mcp).' },
  'database-url': { type: 'string', env: 'DATABASE_URL', for: both, arg: 'URL', help: 'Use this Postgres instead of the embedded PGlite.' },
  'cors-origins': { type: 'string', env: 'INSFORGE_CORS_ORIGINS', for: both, arg: 'LIST', help: 'Embedded backend CORS origins, comma-separated (default: * = all).' },
  'rate-limit': { type: 'string', env: 'INSFORGE_RATE_LIMIT', for: both, arg: 'N', help: 'Embedded backend requests per minute per anon key and client address, per user, or per address (default 1000).' },
  'admin-rate-limit': { type: 'string', env: 'INSFORGE_ADMIN_RATE_LIMIT', for: both, arg: 'N', help: 'Embedded backend requests per minute for the admin key (default 100000).' },
  'max-upload-mb': { type: 'string', env: 'INSFORGE_MAX_UPLOAD_MB', for: both, arg: 'N', help: 'Embedded backend: largest file a storage upload may carry, in MiB (default 50).' },
  'ai-base-url': { type: 'string', env: 'INSFORGE_AI_BASE_URL', for: both, arg: 'URL', help: 'Embedded backend: OpenAI-compatible AI provider, as OpenAI clients take it (ends in /v1), e.g. https://openrouter.ai/api/v1 or http://localhost:11434/v1.' },
  'ai-api-key': { type: 'string', env: 'INSFORGE_AI_API_KEY', for: both, arg: 'KEY', help: 'Embedded backend: API key for the AI provider (none for a local one).' },
  'function-timeout-ms': { type: 'string', env: 'INSFORGE_FUNCTION_TIMEOUT_MS', for: both, arg: 'MS', help: 'Embedded backend: time a function invocation may take, in milliseconds (default 10000).' },
  'statement-timeout-ms': { type: 'string', env: 'INSFORGE_STATEMENT_TIMEOUT_MS', for: both, arg: 'MS', help: 'Embedded backend: longest a SQL statement may run before it is ended (SQLSTATE 57014), in milliseconds (default 30000).' },
  'function-memory-mb': { type: 'string', env: 'INSFORGE_FUNCTION_MEMORY_MB', for: both, arg: 'N', help: 'Embedded backend: memory of a function invocation (heap and buffers), in MiB (default 64).' },
  'deno-path': { type: 'string', env: 'INSFORGE_DENO_PATH', for: both, arg: 'PATH', help: 'Embedded backend: the Deno 2 binary functions run in (default: the one of the npm package deno).' },
  dialect: { type: 'string', env: 'INSFORGE_DIALECT', for: ['mcp'], arg: 'NAME', help: 'API dialect of the backend: auto (detect on first use), documented, or insforge-v2 (default auto).' },
  timeout: { type: 'string', env: 'INSFORGE_TIMEOUT_MS', for: ['mcp'], arg: 'MS', help: 'Per-request timeout to the backend in milliseconds (default 30000).' },
  help: { type: 'boolean', for: both, help: 'Show this help.' },
  version: { type: 'boolean', for: both, help: 'Show the version.' },
} as const satisfies Record<string, FlagSpec>;

type FlagName = keyof typeof FLAGS;

const port = z.coerce.number().int().min(0).max(65535);
const positive = z.coerce.number().int().positive();
const list = z
  .string()
  .transform((s) => s.split(',').map((v) => v.trim()).filter(Boolean));
const flagBool = z.union([z.boolean(), z.enum(['1', '0', 'true', 'false', 'yes', 'no'])]).transform((v) => v === true || v === '1' || v === 'true' || v === 'yes');
const httpUrl = z.url({ protocol: /^https?$/ }).transform((u) => u.replace(/\/+$/, ''));
// as an Origin header reads (scheme://host[:port], no path), or scheme://host:* (any port), or *
const originEntry = z.string().regex(/^(\*|https?:\/\/(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:(\d{1,5}|\*))?)$/i, {
  error: (i) => `"${String(i.input)}" is not an origin: write scheme://host[:port], scheme://host:* or *`,
});

const common = {
  apiKey: z.string().min(8).optional(),
  anonKey: z.string().min(8).optional(),
  host: z.string().min(1).default('127.0.0.1'),
  dataDir: z.string().min(1).optional(),
  databaseUrl: z.string().regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://').optional(),
  corsOrigins: list.optional(),
  rateLimit: positive.default(1000),
  adminRateLimit: positive.default(100000),
  maxUploadMb: positive.default(50),
  aiBaseUrl: httpUrl.optional(),
  aiApiKey: z.string().min(1).optional(),
  // defaults live in the backend, which tests and the MCP server also start without a config
  functionTimeoutMs: positive.optional(),
  functionMemoryMb: positive.optional(),
  statementTimeoutMs: positive.optional(),
  denoPath: z.string().min(1).optional(),
};

export const BackendConfigSchema = z.object({
  ...common,
  // default: the port kept in the data dir, at first 7130 (backend/server.ts)
  port: port.optional(),
});

export const McpConfigSchema = z.object({
  ...common,
  url: httpUrl.optional(),
  http: flagBool.default(false),
  port: port.default(3333),
  allowedOrigins: list.pipe(z.array(originEntry)).optional(),
  allowedHosts: list.optional(),
  httpToken: z.string().min(16, 'use at least 16 characters').optional(),
  timeout: positive.default(30000),
  backendPort: port.optional(), // as the backend's port above
  stateless: flagBool.default(false),
  dialect: z.enum(['auto', 'documented', 'insforge-v2']).default('auto'),
  readOnly: flagBool.default(false),
  features: z
    .string()
    .transform((s) => s.split(',').map((v) => v.trim()).filter(Boolean))
    .pipe(z.array(z.enum(FEATURE_NAMES, { error: (i) => `unknown group "${String(i.input)}"; use ${FEATURE_NAMES.join(', ')}` })).min(1, 'name at least one group'))
    .default([...FEATURE_NAMES]),
});

export type BackendConfig = z.infer<typeof BackendConfigSchema>;
export type McpConfig = z.infer<typeof McpConfigSchema>;

export type Parsed =
  | { command: 'help'; text: string }
  | { command: 'version' }
  | { command: 'backend'; config: BackendConfig }
  | { command: 'mcp'; config: McpConfig };

export class ConfigError extends Error {}

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** Parses argv (without node and script) and env into a validated config. Throws ConfigError. */
export function parseConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): Parsed {
  const command: Command = argv[0] === 'backend' ? 'backend' : 'mcp';
  const args = command === 'backend' ? argv.slice(1) : argv;
  const allowed = (Object.keys(FLAGS) as FlagName[]).filter((f) => (FLAGS[f].for as readonly Command[]).includes(command));

  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: Object.fromEntries(allowed.map((f) => [f, { type: FLAGS[f].type }])),
    }));
  } catch (err) {
    throw new ConfigError(`${(err as Error).message}. Run with --help to see the flags.`);
  }
  if (values.help) return { command: 'help', text: helpText(command) };
  if (values.version) return { command: 'version' };

  const raw: Record<string, unknown> = {};
  for (const flag of allowed) {
    const spec: FlagSpec = FLAGS[flag];
    const fromEnv = spec.env ? env[spec.env] : undefined;
    const value = values[flag] ?? (fromEnv === '' ? undefined : fromEnv);
    if (value !== undefined) raw[camel(flag)] = value;
  }
  if (raw.databaseUrl === undefined && env.INSFORGE_DATABASE_URL) raw.databaseUrl = env.INSFORGE_DATABASE_URL;

  const schema = command === 'backend' ? BackendConfigSchema : McpConfigSchema;
  const result = schema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((i) => {
      const key = String(i.path[0] ?? '');
      const flag = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
      const spec = (FLAGS as Record<string, FlagSpec>)[flag];
      return `--${flag}${spec?.env ? ` (${spec.env})` : ''}: ${i.message}`;
    });
    throw new ConfigError(`Invalid settings:\n  ${lines.join('\n  ')}`);
  }
  if (command === 'mcp') {
    const cfg = result.data as McpConfig;
    if (cfg.stateless && !cfg.http) throw new ConfigError('--stateless applies to the HTTP server: add --http.');
    if (cfg.stateless && cfg.httpToken) {
      throw new ConfigError("--stateless takes each caller's Authorization header as its InsForge credential, so it cannot also be the --http-token.");
    }
    if (cfg.url && !cfg.apiKey && !cfg.anonKey && !cfg.stateless) {
      throw new ConfigError('--url needs --api-key (or INSFORGE_API_KEY), or at least --anon-key, to talk to the backend.');
    }
    return { command, config: cfg };
  }
  return { command, config: result.data as BackendConfig };
}

export function helpText(command: Command): string {
  const usage =
    command === 'backend'
      ? 'Usage: insforge-mcp backend [flags]\n\nRuns the embedded InsForge-compatible backend on its own.\n'
      : 'Usage: insforge-mcp [flags]\n       insforge-mcp backend [flags]\n\nMCP server for an InsForge backend; with no --url it runs an embedded backend.\n';
  const rows = (Object.keys(FLAGS) as FlagName[])
    .filter((f) => (FLAGS[f].for as readonly Command[]).includes(command))
    .map((f) => {
      const spec: FlagSpec = FLAGS[f];
      const left = `  --${f}${spec.arg ? ` ${spec.arg}` : ''}`;
      const env = spec.env ? ` [env ${spec.env}]` : '';
      return `${left.padEnd(28)}${spec.help}${env}`;
    });
  return `${usage}\nFlags:\n${rows.join('\n')}\n`;
}

/** XDG data home, as the embedded backend's default place for its data. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(base, 'insforge-mcp');
}
