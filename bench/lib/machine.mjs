// Facts about where a run happened, recorded with its figures.
import { execFileSync } from "node:child_process";
import { availableParallelism, cpus, loadavg, totalmem } from "node:os";

const git = (root, args) => {
  try {
    return execFileSync("git", args, { cwd: root, encoding: "utf8" }).trim();
  } catch {
    return null;
  }
};

export function machineFacts(root) {
  const cpu = cpus()[0];
  return {
    cores: availableParallelism(),
    cpuModel: cpu?.model ?? "unknown",
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    uvThreadpoolSize: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
    loadAverageAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
    git: {
      commit: git(root, ["rev-parse", "--short", "HEAD"]),
      dirty: Boolean(git(root, ["status", "--porcelain", "--untracked-files=no"])),
    },
  };
}

export const loadAverage = () => loadavg().map((x) => Math.round(x * 100) / 100);
