import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';
import { requireAdmin } from '../caller.js';
import { SECRET_NAME, type SecretStore } from './store.js';

type KeyRequest = FastifyRequest<{ Params: { key: string } }>;

const notFound = (key: string) => new ApiError(404, 'SECRET_NOT_FOUND', `Secret not found: ${key}`, 'List the secrets with GET /api/secrets.');
const NAME_HELP = 'Use uppercase letters, numbers, and underscores only (e.g., STRIPE_API_KEY)';

/** The value of a body, checked without ever putting it into an error message. */
function valueOf(body: unknown): string {
  const value = (body as { value?: unknown } | undefined)?.value;
  if (typeof value !== 'string' || value === '') throw new ApiError(400, 'INVALID_INPUT', 'value: a non-empty string is required', 'Send {"key": "NAME", "value": "…"} (POST) or {"value": "…"} (PUT).');
  return value;
}

/**
 * InsForge v2's secrets routes (admin key). Values are write-only here: no route returns one
 * (InsForge's GET /api/secrets/{key} does), and none is ever logged; functions read them.
 */
export function registerSecretRoutes(app: FastifyInstance, store: SecretStore): void {
  app.get('/api/secrets', async (req) => {
    requireAdmin(req.caller);
    return { secrets: await store.list() };
  });

  app.get('/api/secrets/:key', async (req: KeyRequest) => {
    requireAdmin(req.caller);
    throw new ApiError(403, 'FORBIDDEN', `Secret values are write-only on this backend: ${req.params.key} is not returned`, 'Functions read it as Deno.env.get(name); to change it, PUT /api/secrets/{key} {"value": "…"}.');
  });

  app.post('/api/secrets', async (req, reply) => {
    requireAdmin(req.caller);
    const key = (req.body as { key?: unknown } | undefined)?.key;
    if (typeof key !== 'string' || key === '') throw new ApiError(400, 'INVALID_INPUT', 'Both key and value are required', 'Send {"key": "NAME", "value": "…"}.');
    if (!SECRET_NAME.test(key)) throw new ApiError(400, 'INVALID_INPUT', `Invalid key format. ${NAME_HELP}`, NAME_HELP);
    const id = await store.create(key, valueOf(req.body));
    if (!id) throw new ApiError(409, 'SECRET_ALREADY_EXISTS', `Secret already exists: ${key}`, `Change it with PUT /api/secrets/${key} {"value": "…"}.`);
    return reply.status(201).send({ success: true, message: `Secret ${key} has been created successfully`, id });
  });

  app.put('/api/secrets/:key', async (req: KeyRequest) => {
    requireAdmin(req.caller);
    const { key } = req.params;
    if (!(await store.update(key, valueOf(req.body)))) throw notFound(key);
    return { success: true, message: `Secret ${key} has been updated successfully` };
  });

  app.delete('/api/secrets/:key', async (req: KeyRequest) => {
    requireAdmin(req.caller);
    const { key } = req.params;
    if (!(await store.remove(key))) throw notFound(key);
    return { success: true, message: `Secret ${key} has been deleted successfully` };
  });
}
