import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { call, serverEnv, stdioClient, type ToolOutcome } from '../support/mcp.js';

/** The real InsForge backend this suite runs against (../shared/insforge/up.sh prints these), if any. */
export interface RealBackend {
  url: string;
  apiKey: string;
  anonKey: string;
}

export const REAL: RealBackend | undefined =
  process.env.INSFORGE_BASE_URL && process.env.INSFORGE_API_KEY && process.env.INSFORGE_ANON_KEY
    ? { url: process.env.INSFORGE_BASE_URL.replace(/\/+$/, ''), apiKey: process.env.INSFORGE_API_KEY, anonKey: process.env.INSFORGE_ANON_KEY }
    : undefined;

/**
 * The real backend keeps its data between runs (and other runs may share it): every name this
 * run creates carries this suffix, and what it creates it deletes again.
 */
export const RUN = randomBytes(3).toString('hex');

/** Keys as an MCP host passes them: through the environment, never on the command line. */
export function realEnv(keys: { apiKey?: boolean; anonKey?: boolean } = { apiKey: true, anonKey: true }): Record<string, string> {
  return serverEnv({ INSFORGE_API_KEY: keys.apiKey ? REAL!.apiKey : '', INSFORGE_ANON_KEY: keys.anonKey ? REAL!.anonKey : '' });
}

/**
 * An MCP session over stdio with the built bin pointed at a backend, that remembers which tools
 * it called: `uncalled()` names the tools tools/list offers that no test called.
 */
export class Session {
  readonly called = new Set<string>();

  private constructor(
    readonly client: Client,
    readonly stderr: () => string,
  ) {}

  static async start(url: string, env: Record<string, string>, extraArgs: string[] = []): Promise<Session> {
    const { client, stderr } = await stdioClient(['--url', url, '--dialect', 'auto', ...extraArgs], env);
    return new Session(client, stderr);
  }

  /**
   * A tool call that must succeed, or with `error`, fail as a tool result: never as a protocol
   * error, never as a bug of this server (an output that does not fit its schema, an internal error).
   */
  async call(name: string, args: Record<string, unknown> = {}, opts: { error?: boolean } = {}): Promise<ToolOutcome> {
    this.called.add(name);
    const outcome = await call(this.client, name, args, { allowError: opts.error });
    if (outcome.result.isError) {
      expect(outcome.text, `${name}: an error result, not a protocol error`).not.toMatch(/^MCP error/);
      expect(outcome.data?.error?.code, `${name}: ${outcome.text}`).not.toMatch(/^(INTERNAL_ERROR|OUTPUT_MISMATCH)$/);
      if (!opts.error) throw new Error(`${name} failed: ${outcome.text}`);
    } else if (opts.error) {
      throw new Error(`${name} was expected to fail, and answered: ${outcome.text}`);
    }
    return outcome;
  }

  /** The error of a call that must fail. */
  async error(name: string, args: Record<string, unknown> = {}): Promise<{ status: number; code: string; message: string; nextActions?: string; details?: unknown }> {
    return (await this.call(name, args, { error: true })).data.error;
  }

  async uncalled(): Promise<string[]> {
    const listed = (await this.client.listTools()).tools.map((t) => t.name);
    return listed.filter((n) => !this.called.has(n));
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

/** fetch against the real backend with its admin key, for setup and for checking what a tool did. */
export async function realApi(path: string, init: { method?: string; json?: unknown; headers?: Record<string, string>; key?: 'admin' | 'anon' } = {}) {
  const key = init.key === 'anon' ? REAL!.anonKey : REAL!.apiKey;
  const res = await fetch(`${REAL!.url}${path}`, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${key}`, ...(init.json !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers },
    body: init.json !== undefined ? JSON.stringify(init.json) : undefined,
  });
  const text = await res.text();
  let json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** Raw SQL as the project admin on the real backend; throws on failure. */
export async function realSql(query: string, params: unknown[] = []) {
  const res = await realApi('/api/database/advance/rawsql', { method: 'POST', json: { query, params } });
  if (res.status !== 200) throw new Error(`SQL failed (${res.status}): ${res.text}`);
  return res.json as { rows: Record<string, unknown>[] };
}
