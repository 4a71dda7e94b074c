import { Agent, fetch as undiciFetch } from 'undici';

/**
 * A fetch on sockets of its own, from a loopback address of its own (127.0.0.2 is a second client to
 * the MCP HTTP server, which tells clients apart by address). `agent.stats` shows what is left on them.
 */
export function clientAt(localAddress = '127.0.0.1', connections?: number): { agent: Agent; fetch: typeof fetch } {
  const agent = new Agent({ localAddress, connections });
  const agentFetch = ((url: string | URL, init?: RequestInit) => undiciFetch(url, { ...(init as object), dispatcher: agent })) as unknown as typeof fetch;
  return { agent, fetch: agentFetch };
}
