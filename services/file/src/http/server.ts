// The file service's plain HTTP listener (the data plane, ARCHITECTURE §10), next to its gRPC
// port: FILE_HTTP_PORT (default gRPC port + 2000). A prefix router hands each request to the
// handler mounted at the longest matching prefix (`/v1/tus/` is the tus endpoint; another
// byte endpoint mounts its own prefix the same way), `GET /healthz` answers 200 while serving
// and 503 once shutdown began; anything else is 404. The gateway (or Envoy) reverse-proxies
// the public paths here; this port is not meant to face clients directly.
//
// Shutdown runs with the service runtime (onShutdown): /healthz turns 503, the listener stops
// accepting, idle keep-alive connections close at once, requests in flight get until the
// runtime's shutdown timeout, then their sockets are destroyed; a keep-alive connection closes
// once its request in flight is answered.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "@filemesh/kit";

export type HttpHandler = (req: IncomingMessage, res: ServerResponse, rest: string) => Promise<void> | void;

export interface HttpRouter {
  /**
   * Mounts `handler` at `prefix` (starting and ending with "/"). It gets every request whose
   * path starts with the prefix, and the request for the prefix without its trailing slash;
   * `rest` is the path after the prefix ("" for the prefix itself), still percent-encoded.
   */
  mount(prefix: string, handler: HttpHandler): void;
  /** The handler and rest for a path, or undefined. */
  match(path: string): { handler: HttpHandler; rest: string } | undefined;
}

export function createHttpRouter(): HttpRouter {
  const routes: { prefix: string; handler: HttpHandler }[] = [];
  return {
    mount(prefix, handler) {
      if (!/^\/([A-Za-z0-9._~-]+\/)+$/.test(prefix)) throw new Error(`invalid mount prefix ${prefix}`);
      if (routes.some((r) => r.prefix === prefix)) throw new Error(`${prefix} is mounted twice`);
      routes.push({ prefix, handler });
      routes.sort((a, b) => b.prefix.length - a.prefix.length);
    },
    match(path) {
      for (const r of routes) {
        if (path.startsWith(r.prefix)) return { handler: r.handler, rest: path.slice(r.prefix.length) };
        if (path === r.prefix.slice(0, -1)) return { handler: r.handler, rest: "" };
      }
      return undefined;
    },
  };
}

export interface HttpListener {
  readonly server: Server;
  port: number;
  close(timeoutMs: number): Promise<void>;
}

const plain = (res: ServerResponse, status: number, body: string) => {
  res.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
};

export async function startHttpListener(o: {
  host: string;
  port: number;
  router: HttpRouter;
  log: Logger;
}): Promise<HttpListener> {
  let draining = false;
  const server = createServer(
    { requestTimeout: 0, headersTimeout: 20_000, keepAliveTimeout: 65_000 },
    (req, res) => {
      const path = (req.url ?? "/").split("?")[0] ?? "/";
      if (path === "/healthz") {
        if (req.method !== "GET" && req.method !== "HEAD") return plain(res, 405, "use GET /healthz\n");
        return plain(res, draining ? 503 : 200, draining ? "draining\n" : "ok\n");
      }
      const hit = o.router.match(path);
      if (!hit) return plain(res, 404, "not found\n");
      if (draining) res.setHeader("connection", "close");
      Promise.resolve()
        .then(() => hit.handler(req, res, hit.rest))
        .catch((err: unknown) => {
          o.log.error({ err, path: path.slice(0, 200) }, "http handler failed");
          if (!res.headersSent) plain(res, 500, "internal error\n");
          else res.destroy();
        });
    },
  );
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const listener: HttpListener = {
    server,
    port: (server.address() as AddressInfo).port,
    async close(timeoutMs) {
      draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive connections close as soon as their request in flight has been answered.
      server.closeIdleConnections();
      const idle = setInterval(() => server.closeIdleConnections(), 100);
      const force = setTimeout(() => server.closeAllConnections(), timeoutMs);
      await closed;
      clearInterval(idle);
      clearTimeout(force);
    },
  };
  o.log.info({ http_port: listener.port }, "http listener serving");
  return listener;
}
