import type { FastifyInstance } from 'fastify';
import { ApiError } from '../errors.js';
import { bearerToken } from '../caller.js';
import type { BackendContext } from '../context.js';
import { newAccountFrom, publicUser, requireUser, type Accounts, type UserRow } from './accounts.js';

const INVALID_CREDENTIALS = new ApiError(401, 'INVALID_CREDENTIALS', 'Invalid login credentials', 'Check email and password');

/** The documented auth routes: `/api/auth/{signup,signin,user,signout}`, with access tokens only. */
export function registerAuthRoutes(app: FastifyInstance, ctx: BackendContext, accounts: Accounts): void {
  const session = async (user: UserRow) => {
    const { accessToken, expiresAt } = await ctx.tokens.issue({ sub: user.id, email: user.email });
    return { user: publicUser(user), accessToken, expiresAt: expiresAt.toISOString() };
  };

  app.post('/api/auth/signup', async (req) => {
    const user = await accounts.create(newAccountFrom(req.body));
    // No mail is sent by the embedded backend, so there is nothing to verify.
    return { ...(await session(user)), requireEmailVerification: false };
  });

  app.post('/api/auth/signin', async (req, reply) => session(await accounts.signIn(req, reply, INVALID_CREDENTIALS)));

  app.get('/api/auth/user', async (req) => ({ user: publicUser(await accounts.current(req.caller)) }));

  app.post('/api/auth/signout', async (req) => {
    requireUser(req.caller);
    await ctx.tokens.revoke(bearerToken(req.headers)!);
    return { success: true, message: 'Signed out successfully' };
  });
}
