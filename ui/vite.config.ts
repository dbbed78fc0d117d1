import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// The Robocoach server serves ui/dist at "/" on the same origin as /api.
// For `npm run dev`, point ROBOCOACH_PORT at a running `robocoach serve`.
const serverPort = process.env.ROBOCOACH_PORT;

export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // mujoco.wasm (~10 MB) is emitted as a separate hashed asset and fetched by URL.
    assetsInlineLimit: (file) => (file.endsWith(".wasm") ? false : undefined),
    chunkSizeWarningLimit: 1500,
  },
  // The playback worker (src/playback/playback.worker.ts) is an ES module: mujoco.js needs
  // import.meta.url, and code-splitting is not possible in the default "iife" worker format.
  worker: { format: "es" },
  // Pre-bundling would move mujoco.js away from mujoco.wasm and break its import.meta.url lookup.
  optimizeDeps: { exclude: ["@mujoco/mujoco"] },
  server: serverPort ? { proxy: { "/api": `http://127.0.0.1:${serverPort}` } } : {},
  test: {
    environment: "node",
    include: ["src/**/*.test.ts"],
    testTimeout: 30_000,
  },
});
