// The Go load of the file scenarios' go-* ops (bench/goload: the project's Go client and
// minio-go, with file-loop.mjs's flags and record), built by bench/goload/build.sh into
// dist/bench-goload once per run (a no-op while its sources are unchanged).
import { join } from "node:path";
import { run } from "./exec.mjs";

let built;

/** Resolves with the binary's absolute path (building it first if its sources changed). */
export function ensureGoload(root) {
  built ??= run(join(root, "bench", "goload", "build.sh"), [], { cwd: root }).then((out) =>
    out.trim().split("\n").at(-1),
  );
  return built;
}
