// Builds the console into console/dist, which the gateway serves at / (CONSOLE_DIR). Preact's
// JSX through Vite's own transformer (no Babel preset needed). No inline scripts or styles:
// the gateway's Content-Security-Policy allows only files from the same origin.
import { defineConfig } from "vite";

export default defineConfig({
  root: import.meta.dirname,
  base: "/",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsInlineLimit: 0, // no data: URLs for assets
    modulePreload: { polyfill: false },
    sourcemap: true,
    target: "es2022",
  },
  server: { proxy: { "/v1": process.env.FILEMESH_URL ?? "http://127.0.0.1:8080" } },
});
