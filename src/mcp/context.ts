import type { InsForgeClient } from '../client/client.js';

/** A signed-in user of one MCP session. The token never leaves this object except as a request header. */
export interface SignedInUser {
  token: string;
  user: Record<string, unknown>;
  expiresAt?: string;
}

/** What every tool sees of its MCP session. */
export interface ToolContext {
  /** The client with this session's credentials: the signed-in user's token for data calls, else the configured key. */
  client(): InsForgeClient;
  /** This session's signed-in user, if any; tools of the auth group change it. */
  session: { user?: SignedInUser };
  /** Stateless HTTP: nothing is kept between requests, so sign-in cannot carry over. */
  stateless: boolean;
  /** Tools may read and write this machine's files (stdio: the user's own machine). Off over HTTP. */
  localFiles: boolean;
  log(msg: string): void;
}
