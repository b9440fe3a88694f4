export * from "../gen/filemesh/events/v1/acl_events.js";
export * from "../gen/filemesh/events/v1/auth_events.js";
export * from "../gen/filemesh/events/v1/event_meta.js";
export * from "../gen/filemesh/events/v1/file_events.js";
export * from "../gen/filemesh/events/v1/user_events.js";
