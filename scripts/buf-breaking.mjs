// `buf breaking` against the published API: compares proto/ with the commit named in
// proto/API_BASELINE (the last API clients were promised), or BUF_BREAKING_AGAINST (any git rev).
// Comparing with `main` would check nothing once a change is committed on main; a baseline that
// moves only when an API version is deliberately published catches every breaking change since.
// buf needs the google protos of the other side too, so the comparison runs in a temporary git
// worktree with node_modules linked in. Skips (successfully) when main has no proto/ yet.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const baselineFile = join(root, "proto", "API_BASELINE");
const against =
  process.env.BUF_BREAKING_AGAINST ??
  (existsSync(baselineFile) ? readFileSync(baselineFile, "utf8").split("\n")[0].trim() : "main");
const git = (...args) => execFileSync("git", args, { cwd: root, encoding: "utf8" }).trim();

let rev;
try {
  rev = git("rev-parse", "--verify", "--quiet", `${against}^{commit}`);
} catch {
  console.log(`buf breaking: no ${against} to compare with; skipped`);
  process.exit(0);
}
if (spawnSync("git", ["cat-file", "-e", `${rev}:proto`], { cwd: root }).status !== 0) {
  console.log(`buf breaking: ${against} has no proto/; skipped`);
  process.exit(0);
}
const dir = mkdtempSync(join(tmpdir(), "filemesh-breaking-"));
try {
  git("worktree", "add", "--detach", dir, rev);
  symlinkSync(join(root, "node_modules"), join(dir, "node_modules"));
  const buf = join(root, "node_modules", ".bin", "buf");
  if (!existsSync(join(dir, "buf.yaml"))) throw new Error(`${against} has no buf.yaml`);
  const r = spawnSync(buf, ["breaking", "--against", dir], { cwd: root, stdio: "inherit" });
  if (r.status === 0)
    console.log(`buf breaking: no breaking changes against ${against} (${rev.slice(0, 8)})`);
  process.exitCode = r.status ?? 1;
} finally {
  spawnSync("git", ["worktree", "remove", "--force", dir], { cwd: root });
  rmSync(dir, { recursive: true, force: true });
}
