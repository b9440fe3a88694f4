// The environment the chart gives each service parses with that service's own config loader,
// and every variable it sets is one the service (or Node, pg, the AWS SDK) reads: a misspelt
// or forgotten variable fails here rather than at the first rollout.
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { authSpec, loadAuthConfig } from "../../services/auth/src/config.js";
import { fileSpec, loadFileConfig } from "../../services/file/src/config.js";
import { loadPermissionConfig, permissionSpec } from "../../services/permission/src/config.js";
import { loadProcessorConfig, processorSpec } from "../../services/processor/src/config.js";
import { loadUserConfig, userSpec } from "../../services/user/src/config.js";
import { find, type K8sObject, renderChart, VALUE_SETS } from "./lib/render.js";

type Env = Record<string, string>;
const SERVICES: Record<string, { spec: Record<string, { env: string }>; load: (env: Env) => unknown }> = {
  auth: { spec: authSpec, load: loadAuthConfig },
  user: { spec: userSpec, load: loadUserConfig },
  permission: { spec: permissionSpec, load: loadPermissionConfig },
  file: { spec: fileSpec, load: loadFileConfig },
  processor: { spec: processorSpec, load: loadProcessorConfig },
};

/** Read by something other than the config loader. */
const RUNTIME = new Set(["UV_THREADPOOL_SIZE", "PGPASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]);
/** The keys docs/deploy.md tells the operator to put in "<service>-env" (dummy values here). */
const SECRET_KEYS: Record<string, Env> = {
  auth: { PGPASSWORD: "x", PASSWORD_PEPPER: "p".repeat(40) },
  user: { PGPASSWORD: "x" },
  permission: { PGPASSWORD: "x" },
  file: { PGPASSWORD: "x", AWS_ACCESS_KEY_ID: "x", AWS_SECRET_ACCESS_KEY: "x" },
  processor: { PGPASSWORD: "x", AWS_ACCESS_KEY_ID: "x", AWS_SECRET_ACCESS_KEY: "x" },
};

function envOf(objects: K8sObject[], name: string, withToken: boolean): Env {
  return {
    ...find(objects, "ConfigMap", `${name}-config`).data,
    ...SECRET_KEYS[name],
    ...(withToken ? { INTERNAL_TOKEN: "t".repeat(32) } : {}),
  };
}

function unknownKeys(name: string, env: Env): string[] {
  const known = new Set([...Object.values(SERVICES[name]?.spec ?? {}).map((f) => f.env), ...RUNTIME]);
  return Object.keys(env).filter((k) => !known.has(k));
}

const sets: [string, string[], string[]][] = [
  ["default", VALUE_SETS.default ?? [], []],
  ["production", VALUE_SETS.production ?? [], []],
  ["mesh-less with TLS", [], ["mesh.enabled=false", "tls.enabled=true"]],
];

describe.each(sets)("service environment (%s values)", (_, files, set) => {
  const objects = renderChart(files, { set });
  const meshless = set.includes("mesh.enabled=false");
  it.each(Object.keys(SERVICES))("%s parses it with its own config loader", (name) => {
    expect(() => SERVICES[name]?.load(envOf(objects, name, meshless))).not.toThrow();
  });
  it.each(Object.keys(SERVICES))("%s reads every variable it is given", (name) => {
    expect(unknownKeys(name, envOf(objects, name, meshless))).toEqual([]);
  });
});

describe("the processor shares the file service's blob store", () => {
  it.each(sets)("%s values", (_, files, set) => {
    const objects = renderChart(files, { set });
    const file = envOf(objects, "file", false);
    const processor = envOf(objects, "processor", false);
    const blob = (env: Env) => Object.fromEntries(Object.entries(env).filter(([k]) => /^(BLOB|S3)_/.test(k)));
    expect(blob(file).BLOB_DRIVER).toBe("s3");
    expect(blob(processor)).toEqual(blob(file));
    // Files wait for the processor's verdict.
    expect(file.FILES_READY_ON_COMMIT).toBe("false");
  });
});

describe("broken environments are caught", () => {
  const objects = renderChart([]);
  it("a misspelt variable", () => {
    const env = { ...envOf(objects, "user", false), LOGLEVEL: "debug" };
    expect(unknownKeys("user", env)).toEqual(["LOGLEVEL"]);
  });
  it("a missing secret (auth's pepper)", () => {
    const { PASSWORD_PEPPER: _, ...env } = envOf(objects, "auth", false);
    expect(() => loadAuthConfig(env)).toThrow(/PASSWORD_PEPPER/);
  });
  it("an invalid value", () => {
    const env = { ...envOf(objects, "file", false), SHUTDOWN_TIMEOUT: "soon" };
    expect(() => loadFileConfig(env)).toThrow(/SHUTDOWN_TIMEOUT/);
  });
});

describe("a CDN for downloads (services.file.cdn)", () => {
  const set = [
    "services.file.cdn.baseUrl=https://cdn.example.com",
    "services.file.cdn.keyPairId=K2JCJMDEHXQW5F",
  ];
  const objects = renderChart([], { set });
  const env = envOf(objects, "file", false);

  it("gives the file service the three CDN_* variables, the key mounted from its Secret", () => {
    expect(env).toMatchObject({
      CDN_BASE_URL: "https://cdn.example.com",
      CDN_KEY_PAIR_ID: "K2JCJMDEHXQW5F",
      CDN_PRIVATE_KEY_FILE: "/etc/filemesh/cdn/private-key.pem",
    });
    expect(unknownKeys("file", env)).toEqual([]);
    const pod = find(objects, "Deployment", "file").spec.template.spec;
    expect(pod.containers[0].volumeMounts).toContainEqual({
      name: "cdn-key",
      mountPath: "/etc/filemesh/cdn",
      readOnly: true,
    });
    const volume = (pod.volumes as { name: string }[]).find((v) => v.name === "cdn-key");
    expect(volume).toMatchObject({
      secret: { secretName: "file-cdn-key", items: [{ key: "private-key.pem", path: "private-key.pem" }] },
    });
    // Nobody else gets them.
    expect(Object.keys(envOf(objects, "processor", false)).filter((k) => k.startsWith("CDN_"))).toEqual([]);
  });

  it("parses with the file service's loader, given the key the Secret holds", () => {
    const dir = mkdtempSync(join(tmpdir(), "filemesh-cdn-chart-"));
    try {
      const key = join(dir, "private-key.pem");
      const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
      writeFileSync(key, privateKey.export({ type: "pkcs8", format: "pem" }));
      expect(loadFileConfig({ ...env, CDN_PRIVATE_KEY_FILE: key }).cdn?.baseUrl).toBe(
        "https://cdn.example.com",
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("is off by default: no CDN_* and no key volume", () => {
    const plain = renderChart([]);
    expect(Object.keys(envOf(plain, "file", false)).filter((k) => k.startsWith("CDN_"))).toEqual([]);
    const volumes = find(plain, "Deployment", "file").spec.template.spec.volumes as { name: string }[];
    expect(volumes.map((v) => v.name)).not.toContain("cdn-key");
  });
});
