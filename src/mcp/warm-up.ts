import type { Tool } from './tool.js';
import type { EmbeddedBackend } from './embedded.js';

/**
 * The embedded backend starts in the background as the server starts; a call that comes before it
 * is ready waits for what is left, and a call that asked for progress hears what start-up is doing.
 * Progress stays below 1: a tool's own progress (bytes, characters) starts at 1 or more and must
 * keep increasing under the same token.
 */
export function waitingForBackend(tool: Tool, backend: EmbeddedBackend): Tool {
  return {
    spec: tool.spec,
    handler: async (ctx, args, extra) => {
      const token = extra._meta?.progressToken;
      if (token !== undefined && !backend.ready()) {
        let step = 0;
        let sent: Promise<unknown> = Promise.resolve();
        const report = (message: string) => {
          step = Math.min(step + 1, 99);
          const notification = { method: 'notifications/progress' as const, params: { progressToken: token, progress: step / 100, message } };
          sent = sent.then(() => extra.sendNotification(notification).catch(() => undefined));
        };
        report('waiting for the embedded backend to start');
        await backend.warmUp(report);
        await sent; // progress that arrives after the result is dropped by the client
      }
      return tool.handler(ctx, args, extra);
    },
  };
}
