// The kit's untangled http2 sessions (services/kit/src/grpc/http2-sessions.ts), bundled for
// bench/lib/bare-grpc-server.mjs's `untangled` option: the bare server with the kit's fix alone.
export { untangleHttp2Sessions } from "../../services/kit/src/grpc/http2-sessions.js";
