// Where a client is sent to read one version's bytes directly (GetDownloadUrl, and
// CreateDownloadTicket on a presigning store): the CDN's signed URL when CDN_* is configured
// (data/cdn.ts), else the store's presigned GET. Uploads always presign against the store.
import type { FileDeps } from "./deps.js";

export async function downloadUrl(
  deps: Pick<FileDeps, "blobs" | "cdn">,
  v: { object_key: string; content_type: string },
  fileName: string,
  expiresInSeconds: number,
): Promise<{ url: string; expireTime: Date }> {
  const o = { expiresInSeconds, fileName, contentType: v.content_type };
  if (deps.cdn) return deps.cdn.signGet(v.object_key, o);
  const url = await deps.blobs.presignGet(v.object_key, o);
  return { url, expireTime: new Date(Date.now() + expiresInSeconds * 1000) };
}
