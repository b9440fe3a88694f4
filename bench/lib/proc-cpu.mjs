// CPU time of the mesh's processes (all their threads) from /proc/<pid>/stat, so each segment
// can report CPU per answered call: on a shared machine that figure moves far less with the
// neighbours' load than rps or latency do. Linux only; elsewhere (or with --target) it is absent.
import { readdirSync, readFileSync } from "node:fs";

const TICK_MS = 10; // USER_HZ is 100 on Linux

/**
 * All of the machine's PostgreSQL server processes: every live `postgres` process's utime +
 * stime, plus the ended ones' (cutime + cstime of their parents, the postmaster among them).
 * The server is shared, so this counts whatever else uses it too (quiet machines only).
 */
export function postgresCpuMs() {
  let total = 0;
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      if (comm !== "postgres") continue;
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      total += Number(rest[11]) + Number(rest[12]) + Number(rest[13]) + Number(rest[14]);
    } catch {
      // ended between the listing and the read
    }
  }
  return total * TICK_MS;
}

/** utime + stime of `pid` in ms ("postgres": postgresCpuMs()), or undefined. */
export function cpuMsOf(pid) {
  if (pid === "postgres") return postgresCpuMs();
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may contain spaces) in parentheses.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(rest[11]) + Number(rest[12])) * TICK_MS;
  } catch {
    return undefined;
  }
}

/**
 * CPU ms of this process's children that have ended and been waited for (cutime + cstime of
 * /proc/self/stat): around one ghz run, the client's own CPU. Undefined off Linux.
 */
export function endedChildrenCpuMs() {
  try {
    const stat = readFileSync("/proc/self/stat", "utf8");
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(rest[13]) + Number(rest[14])) * TICK_MS;
  } catch {
    return undefined;
  }
}

/** Snapshot of { name: cpuMs } for { name: pid }. */
export function snapshot(pids) {
  const out = {};
  for (const [name, pid] of Object.entries(pids)) {
    const ms = cpuMsOf(pid);
    if (ms !== undefined) out[name] = ms;
  }
  return out;
}

/** CPU ms used per process between two snapshots. */
export const since = (before, after) =>
  Object.fromEntries(Object.keys(before).map((k) => [k, (after[k] ?? before[k]) - before[k]]));
