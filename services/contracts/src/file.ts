export * from "../gen/filemesh/file/v1/file.js";
export * from "../gen/filemesh/file/v1/file_service.js";
export * from "../gen/filemesh/file/v1/share_link.js";
export * from "../gen/filemesh/file/v1/upload.js";
