/**
 * Storage answers in one shape, whichever backend sent them. InsForge v2 lists objects with its
 * database row as well (`mime_type` beside `mimeType`, `uploaded_at`, `etag`, `s3_access_key_id`…),
 * and answers a new bucket with a message for REST readers.
 */

export interface Bucket {
  name: string;
  public: boolean;
  createdAt?: string;
}

export interface StoredObject {
  bucket: string;
  key: string;
  size: number;
  mimeType: string;
  uploadedAt?: string;
  url: string;
}

type Raw = Record<string, unknown>;
const text = (v: unknown) => (typeof v === 'string' ? v : undefined);

export function storedObject(o: Raw, bucket: string): StoredObject {
  const uploadedAt = text(o.uploadedAt) ?? text(o.uploaded_at);
  return {
    bucket: text(o.bucket) ?? bucket,
    key: String(o.key),
    size: Number(o.size),
    mimeType: text(o.mimeType) ?? text(o.mime_type) ?? 'application/octet-stream',
    ...(uploadedAt ? { uploadedAt } : {}),
    url: String(o.url),
  };
}

/** v2 and the embedded backend answer `{bucketName, isPublic, message, nextActions}`; list entries are `{name, public}`. */
export function bucketFrom(o: Raw, name: string, isPublic: boolean): Bucket {
  const createdAt = text(o.createdAt);
  return { name: text(o.name) ?? text(o.bucketName) ?? name, public: typeof o.public === 'boolean' ? o.public : typeof o.isPublic === 'boolean' ? o.isPublic : isPublic, ...(createdAt ? { createdAt } : {}) };
}
