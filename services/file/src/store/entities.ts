// MikroORM entities of the `files` schema (for admin tooling and schema checks); request paths
// use the plain SQL in files.ts, versions.ts, uploads.ts, links.ts and usage.ts.
import { defineEntity, p } from "@mikro-orm/core";

export const FileEntity = defineEntity({
  name: "File",
  tableName: "files",
  schema: "files",
  properties: {
    id: p.uuid().primary(),
    ownerId: p.text().fieldName("owner_id"),
    parentId: p.uuid().fieldName("parent_id").nullable(),
    homeOf: p.text().fieldName("home_of").nullable(),
    kind: p.smallint(),
    name: p.text(),
    sizeBytes: p.bigint().fieldName("size_bytes"),
    sha256: p.text(),
    contentType: p.text().fieldName("content_type"),
    state: p.smallint(),
    etag: p.text(),
    createTime: p.datetime().fieldName("create_time"),
    updateTime: p.datetime().fieldName("update_time"),
    trashTime: p.datetime().fieldName("trash_time").nullable(),
  },
});

export const VersionEntity = defineEntity({
  name: "FileVersion",
  tableName: "versions",
  schema: "files",
  properties: {
    id: p.uuid().primary(),
    fileId: p.uuid().fieldName("file_id"),
    ownerId: p.text().fieldName("owner_id"),
    objectKey: p.text().fieldName("object_key"),
    sizeBytes: p.bigint().fieldName("size_bytes"),
    sha256: p.text(),
    contentType: p.text().fieldName("content_type"),
    createTime: p.datetime().fieldName("create_time"),
  },
});

export const fileEntities = [FileEntity, VersionEntity];
