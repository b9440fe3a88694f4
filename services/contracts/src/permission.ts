export * from "../gen/filemesh/permission/v1/grant.js";
export * from "../gen/filemesh/permission/v1/permission_service.js";
export * from "../gen/filemesh/permission/v1/relation.js";
