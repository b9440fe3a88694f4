export * from "./forwarded.js";
export * from "./jwks.js";
export * from "./middleware.js";
export * from "./session-keys.js";
export * from "./verify.js";
