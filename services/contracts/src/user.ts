export * from "../gen/filemesh/user/v1/group.js";
export * from "../gen/filemesh/user/v1/user.js";
export * from "../gen/filemesh/user/v1/user_service.js";
