// Runs a command without blocking the event loop (the mesh under test runs in this process)
// and collects its output.
import { spawn } from "node:child_process";
import { join } from "node:path";

export const root = join(import.meta.dirname, "..", "..");

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string>; input?: string } = {},
): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd ?? root,
      env: { ...process.env, ...opts.env },
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d) => {
      stdout += d;
    });
    child.stderr?.on("data", (d) => {
      stderr += d;
    });
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Installs pinned tools into .tools/bin (a no-op when they are there) and returns the dir. */
export async function tools(...names: string[]): Promise<string> {
  const r = await run(join(root, "scripts", "tools.sh"), names);
  if (r.code !== 0) throw new Error(`scripts/tools.sh ${names.join(" ")} failed:\n${r.stdout}${r.stderr}`);
  return join(root, ".tools", "bin");
}
