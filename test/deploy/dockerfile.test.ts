// The Dockerfile, checked statically (no Docker engine on our machines): multi-stage, the
// runtime stage non-root with production dependencies only, every workspace's manifest in
// the dependency stage, and .dockerignore keeping secrets and local state out of the context.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./lib/render.js";

interface Stage {
  from: string;
  name: string;
  lines: { instruction: string; args: string }[];
}

/** Instructions grouped by stage (continuation lines joined, comments dropped). */
function parseDockerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const logical = text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const line of logical) {
    const [instruction = "", ...rest] = line.split(/\s+/);
    const argText = rest.join(" ");
    const upper = instruction.toUpperCase();
    if (upper === "FROM") {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(argText);
      const from = (m?.[1] ?? "").replace(/\$\{(\w+)\}/g, (_, v) => args.get(v) ?? "");
      stages.push({ from, name: m?.[2] ?? String(stages.length), lines: [] });
    } else if (upper === "ARG" && stages.length === 0) {
      const [k, v = ""] = argText.split("=");
      args.set(k ?? "", v);
    } else stages.at(-1)?.lines.push({ instruction: upper, args: argText });
  }
  return { args, stages };
}

function dockerfileProblems(text: string): string[] {
  const p: string[] = [];
  const { stages } = parseDockerfile(text);
  if (stages.length < 2) p.push("not multi-stage");
  for (const s of stages)
    if (!/:[\w.-]+$/.test(s.from) || s.from.endsWith(":latest"))
      p.push(`${s.name}: base ${s.from} not pinned`);
  const final = stages.at(-1);
  if (!final) return [...p, "no stage"];
  const user = final.lines.filter((l) => l.instruction === "USER").at(-1)?.args ?? "";
  if (!/^[1-9]\d*(:[1-9]\d*)?$/.test(user))
    p.push(`runtime stage: USER "${user}" is not a numeric non-root uid`);
  for (const l of final.lines) {
    if (l.instruction === "RUN") p.push(`runtime stage runs "${l.args}" (it should only copy)`);
    if (l.instruction === "COPY" && !/--from=/.test(l.args))
      p.push(`runtime stage copies from the context: ${l.args}`);
    if (l.instruction === "ADD") p.push("runtime stage uses ADD");
  }
  const copiedModules = final.lines.find((l) => l.instruction === "COPY" && /node_modules/.test(l.args));
  const depsStage = stages.find((s) => copiedModules?.args.includes(`--from=${s.name}`));
  if (!depsStage) p.push("runtime stage: node_modules do not come from a dependency stage");
  else {
    const install = depsStage.lines.find((l) => l.instruction === "RUN" && /npm ci/.test(l.args))?.args ?? "";
    if (!/--omit=dev/.test(install)) p.push(`${depsStage.name}: npm ci without --omit=dev`);
    const copied = depsStage.lines.filter((l) => l.instruction === "COPY").map((l) => l.args);
    for (const ws of readdirSync(join(ROOT, "services"))) {
      if (!copied.some((c) => c.startsWith(`services/${ws}/package.json `)))
        p.push(
          `${depsStage.name}: services/${ws}/package.json not copied (its dependencies would be missing)`,
        );
    }
  }
  if (!final.lines.some((l) => l.instruction === "COPY" && /\/dist\/? /.test(`${l.args} `)))
    p.push("runtime stage: dist/ not copied");
  return p;
}

describe("Dockerfile", () => {
  const text = readFileSync(join(ROOT, "Dockerfile"), "utf8");

  it("is multi-stage, non-root, production dependencies only", () => {
    expect(dockerfileProblems(text)).toEqual([]);
  });

  it("runs a service chosen by argument (the chart passes dist/<service>.js)", () => {
    const final = parseDockerfile(text).stages.at(-1);
    expect(final?.from).toMatch(/distroless\/nodejs20/);
    expect(final?.lines.find((l) => l.instruction === "CMD")?.args).toBe('["dist/auth.js"]');
  });

  it.each([
    ["a root user", (t: string) => t.replace("USER 65532:65532", "USER root"), /USER "root"/],
    [
      "dev dependencies",
      (t: string) => t.replace("npm ci --omit=dev", "npm ci"),
      /npm ci without --omit=dev/,
    ],
    ["a single stage", (t: string) => t.slice(t.lastIndexOf("FROM ")), /not multi-stage/],
    [
      "a forgotten workspace",
      (t: string) => t.replace(/COPY services\/user\/package.json .*\n/, ""),
      /services\/user\/package.json not copied/,
    ],
    [
      "a latest base image",
      (t: string) => t.replace(/NODE_IMAGE=\S+/, "NODE_IMAGE=node:latest"),
      /not pinned/,
    ],
  ])("catches %s", (_, edit, expected) => {
    expect(dockerfileProblems(edit(text)).join("\n")).toMatch(expected);
  });
});

describe(".dockerignore", () => {
  const lines = readFileSync(join(ROOT, ".dockerignore"), "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));

  it("starts from nothing and lets in only the sources the build needs", () => {
    expect(lines[0]).toBe("**");
    const included = lines.filter((l) => l.startsWith("!")).map((l) => l.slice(1));
    for (const secretish of [".tmp", ".git", ".tools", "node_modules", "dist", "gen", "bench", "k8s"])
      expect(
        included.some((i) => i === secretish || i.startsWith(`${secretish}/`)),
        secretish,
      ).toBe(false);
    expect(included).toEqual(
      expect.arrayContaining(["package.json", "package-lock.json", "proto", "services", "scripts"]),
    );
    expect(lines).toEqual(expect.arrayContaining(["services/*/test", "**/.env", "**/*.pem", "**/*.key"]));
  });
});
