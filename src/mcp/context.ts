import type { InsForgeClient } from '../client/client.js';

/** What every tool sees of its MCP session: the client to call, acting for whoever this session is. */
export interface ToolContext {
  /** The client with this session's credentials (a signed-in user's token, else the configured key). */
  client(): InsForgeClient;
  log(msg: string): void;
}
