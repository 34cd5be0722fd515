import { defineConfig } from "vite";

// The app calls `/graphql` on its own origin; Vite forwards it (and the
// graphql-ws upgrade) to the server, so the browser needs no CORS. Point it
// elsewhere with TENANTRY_URL. In production, serve the built files and the
// API from one origin, or list the app's origin in `server.cors_origins`.
const target = process.env.TENANTRY_URL ?? "http://127.0.0.1:8080";
const proxy = { "/graphql": { target, ws: true, changeOrigin: true } };

export default defineConfig({
  server: { proxy },
  preview: { proxy },
});
