// Rows to API messages.
import type { filev1 } from "@filemesh/contracts";
import type { FileRow } from "../store/files.js";

export function toFile(r: FileRow): filev1.File {
  return {
    id: r.id,
    name: r.name,
    parentId: r.parent_id ?? "",
    kind: r.kind as filev1.FileKind,
    sizeBytes: r.size_bytes,
    sha256: r.sha256,
    contentType: r.content_type,
    state: r.state as filev1.FileState,
    etag: r.etag,
    createTime: r.create_time,
    updateTime: r.update_time,
    trashTime: r.trash_time ?? undefined,
    ownerId: r.owner_id,
    stateReason: r.state_reason,
    currentVersionId: r.current_version_id ?? "",
    hasThumbnail: r.has_thumbnail,
  };
}
