// Mesh-less mTLS (clusters without Istio): a real service runtime serves TLS from files and
// requires client certificates signed by TLS_CLIENT_CA_FILE. A CA, a server and a client
// certificate are made with the openssl CLI; a client without a certificate is refused, one
// with a certificate from another CA is refused, one with a valid certificate is SERVING.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Runtime } from "@filemesh/kit";
import { createLogger } from "@filemesh/kit";
import { credentials, loadPackageDefinition } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { protoPath } from "grpc-health-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startProcessorService } from "../../services/processor/src/app.js";
import { loadProcessorConfig } from "../../services/processor/src/config.js";

const dir = mkdtempSync(join(tmpdir(), "filemesh-mtls-"));
const file = (name: string) => join(dir, name);
const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });

function makeCa(name: string) {
  openssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "1",
    "-subj",
    `/CN=${name}`,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.crt`,
  );
}

/** A key and a certificate signed by `ca`, with the extensions of `section` in ext.cnf. */
function makeCert(name: string, ca: string, section: "server" | "client") {
  openssl(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    `/CN=${name}`,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
  );
  openssl(
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    `${ca}.crt`,
    "-CAkey",
    `${ca}.key`,
    "-CAcreateserial",
    "-days",
    "1",
    "-out",
    `${name}.crt`,
    "-extfile",
    file("ext.cnf"),
    "-extensions",
    section,
  );
}

const health = (loadPackageDefinition(loadSync(protoPath, { keepCase: true, enums: String })) as any).grpc
  .health.v1.Health;

/** grpc.health.v1 Check over TLS: the status, or the error's message. */
function check(addr: string, tls: { ca: string; cert?: string; key?: string }): Promise<string> {
  const creds = credentials.createSsl(
    readFileSync(file(tls.ca)),
    tls.key ? readFileSync(file(tls.key)) : null,
    tls.cert ? readFileSync(file(tls.cert)) : null,
  );
  const client = new health(addr, creds, {
    "grpc.ssl_target_name_override": "processor.filemesh.svc.cluster.local",
  });
  return new Promise((resolve) => {
    client.Check(
      { service: "" },
      { deadline: Date.now() + 5000 },
      (err: Error | null, res: { status: string }) => {
        client.close();
        resolve(err ? `error: ${err.message}` : res.status);
      },
    );
  });
}

let runtime: Runtime | undefined;
let addr = "";

beforeAll(async () => {
  writeFileSync(
    file("ext.cnf"),
    `[server]
subjectAltName = DNS:processor.filemesh.svc.cluster.local, IP:127.0.0.1
extendedKeyUsage = serverAuth
[client]
subjectAltName = URI:spiffe://cluster.local/ns/filemesh/sa/file
extendedKeyUsage = clientAuth
`,
  );
  makeCa("ca");
  makeCa("rogue-ca");
  makeCert("server", "ca", "server");
  makeCert("client", "ca", "client");
  makeCert("rogue", "rogue-ca", "client");
  const config = loadProcessorConfig({
    GRPC_HOST: "127.0.0.1",
    GRPC_PORT: "0",
    ADMIN_PORT: "0",
    LOG_LEVEL: "silent",
    TLS_CERT_FILE: file("server.crt"),
    TLS_KEY_FILE: file("server.key"),
    TLS_CLIENT_CA_FILE: file("ca.crt"),
    INTERNAL_TOKEN: "mtls-test-internal-token",
  });
  runtime = await startProcessorService(config, createLogger({ service: "processor", level: "silent" }));
  addr = `127.0.0.1:${runtime.port}`;
});

afterAll(async () => {
  await runtime?.shutdown("test done");
  rmSync(dir, { recursive: true, force: true });
});

describe("mesh-less mTLS from files", () => {
  it("serves a client with a certificate from the configured CA", async () => {
    expect(await check(addr, { ca: "ca.crt", cert: "client.crt", key: "client.key" })).toBe("SERVING");
  });

  it("refuses a client without a certificate", async () => {
    expect(await check(addr, { ca: "ca.crt" })).toMatch(/^error: 14 UNAVAILABLE/);
  });

  it("refuses a client whose certificate another CA signed", async () => {
    expect(await check(addr, { ca: "ca.crt", cert: "rogue.crt", key: "rogue.key" })).toMatch(
      /^error: 14 UNAVAILABLE/,
    );
  });

  it("refuses plaintext", async () => {
    const client = new health(addr, credentials.createInsecure());
    const out = await new Promise<string>((resolve) =>
      client.Check(
        { service: "" },
        { deadline: Date.now() + 5000 },
        (err: Error | null, res: { status: string }) => {
          client.close();
          resolve(err ? `error: ${err.message}` : res.status);
        },
      ),
    );
    expect(out).toMatch(/^error: 14 UNAVAILABLE/);
  });
});
