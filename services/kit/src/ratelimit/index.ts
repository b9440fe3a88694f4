export * from "./gcra.js";
export * from "./middleware.js";
