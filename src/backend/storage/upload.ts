import type { FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';
import { checkKey } from './keys.js';
import type { StorageDisk, TempFile } from './disk.js';

/** A multipart upload received into a temp file, with what the form said about it. */
export interface ReceivedUpload {
  temp: TempFile;
  filename: string;
  /** The part's Content-Type as sent. */
  declaredType: string;
  /** The `path` field (the key), if the form had one; already validated. */
  path?: string;
}

const MiB = 1024 * 1024;

export const tooLarge = (maxBytes: number) =>
  new ApiError(413, 'STORAGE_INVALID_PARAMETER', `File too large. Maximum upload size is ${Number((maxBytes / MiB).toFixed(2))} MB.`, 'Upload a smaller file, or start the backend with a larger --max-upload-mb.');

const badForm = (message: string) => new ApiError(400, 'STORAGE_INVALID_PARAMETER', message, 'Send multipart/form-data with the file in a field named "file" and, optionally, the key in a "path" field before it.');

/** @fastify/multipart and busboy errors → the envelope; anything else passes through. */
function asApiError(err: unknown, maxBytes: number): unknown {
  if (err instanceof ApiError) return err;
  switch ((err as { code?: string })?.code) {
    case 'FST_REQ_FILE_TOO_LARGE':
      return tooLarge(maxBytes);
    case 'FST_FILES_LIMIT':
      return badForm('Send one file per request');
    case 'FST_PARTS_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return badForm('Too many form fields');
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return badForm('The request is not multipart/form-data');
    case 'FST_PROTO_VIOLATION':
      return badForm('Invalid form field name');
    case 'FST_MP_PREMATURE_CLOSE':
    case 'ERR_STREAM_PREMATURE_CLOSE':
    case 'ECONNRESET':
      return new ApiError(400, 'INVALID_INPUT', 'The upload was aborted before it finished', 'Send the whole request body.');
  }
  // busboy reports malformed bodies as plain Errors
  if (err instanceof Error && !('code' in err)) return badForm(`Malformed multipart body: ${err.message}`);
  return err;
}

/**
 * Reads a multipart body: the file part streams to a temp file (never buffered whole) and the
 * `path` field may come before or after it. On any failure (a bad form, over the size limit,
 * the client going away) the temp file is removed before the error is thrown.
 */
export async function receiveUpload(req: FastifyRequest, disk: StorageDisk, maxBytes: number): Promise<ReceivedUpload> {
  if (!req.isMultipart()) throw badForm('The request is not multipart/form-data');
  let temp: TempFile | undefined;
  let file: { filename: string; declaredType: string } | undefined;
  let path: string | undefined;
  try {
    for await (const part of req.parts({ limits: { fileSize: maxBytes, files: 1, fields: 50, fieldSize: 4096, parts: 60 } })) {
      if (part.type === 'field') {
        if (part.fieldname !== 'path') continue; // v2 ignores other fields
        // a value cut at fieldSize (4 KiB) is over the 1 KiB key limit, so checkKey refuses it too
        path = checkKey(String(part.value));
        continue;
      }
      if (part.fieldname !== 'file') {
        part.file.destroy(); // stops the parser; the rest of the body is drained below
        throw badForm(`Unexpected field "${part.fieldname}": send the file in a field named "file"`);
      }
      temp = await disk.writeTemp(part.file);
      // busboy stops at the limit and ends the stream early: what we have is not the whole file
      if (part.file.truncated) throw tooLarge(maxBytes);
      file = { filename: part.filename, declaredType: part.mimetype };
    }
  } catch (err) {
    if (temp) await disk.discard(temp.path);
    req.raw.resume(); // drain what is left so the connection stays usable
    throw asApiError(err, maxBytes);
  }
  if (!temp || !file) throw badForm('file: Required');
  return { temp, ...file, ...(path !== undefined ? { path } : {}) };
}
