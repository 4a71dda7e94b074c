import type { FastifyReply } from 'fastify';

/**
 * A signal that fires when the client goes away before the response is finished, so upstream work
 * (a provider request, a function's worker) stops with it. The response's 'close' is the one to
 * watch: the request's fires as soon as its body has been read.
 */
export function disconnectSignal(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}
