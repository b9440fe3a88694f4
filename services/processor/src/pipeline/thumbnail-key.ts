// Where the thumbnail of a version lives: a key derived from the version's object key, in the
// same shape as every server-generated key (ab/cd/<uuid>), so the file service can find,
// serve and delete it from the object key alone (SetFileState carries only has_thumbnail).
import { createHash } from "node:crypto";

export function thumbnailKey(objectKey: string): string {
  const h = createHash("sha256").update(`filemesh.thumbnail.v1\n${objectKey}`).digest("hex");
  const id = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
  return `${h.slice(30, 32)}/${h.slice(28, 30)}/${id}`;
}
