export * from "./gcra.js";
export * from "./local-bucket.js";
export * from "./middleware.js";
