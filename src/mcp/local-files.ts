import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { BackendError } from '../client/errors.js';
import type { ToolContext } from './context.js';

/** filePath/savePath name this server's disk: fine over stdio (the user's own machine), refused over HTTP. */
export function assertLocalFiles(ctx: ToolContext, arg: string, instead: string): void {
  if (!ctx.localFiles) {
    throw new BackendError(400, 'LOCAL_FILES_DISABLED', `${arg} names a file on this server's disk, which remote (HTTP) clients may not use`, instead);
  }
}

/** The absolute path and size of an existing regular file named by a tool argument. */
export async function existingFile(ctx: ToolContext, arg: string, path: string, instead: string): Promise<{ path: string; size: number }> {
  assertLocalFiles(ctx, arg, instead);
  const absolute = resolve(path);
  const info = await stat(absolute).catch(() => undefined);
  if (!info?.isFile()) throw new BackendError(400, 'INVALID_INPUT', `${arg}: no such file: ${absolute}`, 'Give the absolute path of an existing file.');
  return { path: absolute, size: info.size };
}
