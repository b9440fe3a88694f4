// The upload and download commands: argument handling, folder creation, a small pool of
// parallel uploads and the progress display around src/upload.ts and src/download.ts.
import { existsSync, statSync } from "node:fs";
import { basename } from "node:path";
import type { Context } from "./context.js";
import { downloadOne, localTarget } from "./download.js";
import { usage } from "./errors.js";
import { type File, segments } from "./paths.js";
import { createProgress, humanBytes } from "./progress.js";
import { collect, type Uploaded, uploadOne } from "./upload.js";

/** `upload a b [dest]`: the last argument is the destination when it is not a local path. */
export function splitUploadArgs(args: string[], to?: string): { sources: string[]; dest: string } {
  if (to !== undefined) return { sources: args, dest: to };
  if (args.length >= 2 && !existsSync(args[args.length - 1]!)) {
    return { sources: args.slice(0, -1), dest: args[args.length - 1]! };
  }
  return { sources: args, dest: "/" };
}

async function pool<T, R>(items: T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

export async function upload(
  c: Context,
  args: string[],
  opts: { to?: string; parallel?: string; limitRate?: string },
) {
  const { sources, dest } = splitUploadArgs(args, opts.to);
  if (sources.length === 0) throw usage("upload needs at least one local file or folder");
  for (const src of sources) statSync(src); // ENOENT → exit 4 before anything is created
  const parallel = Number(opts.parallel ?? "4");
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > 32) throw usage("--parallel must be 1..32");
  const limitRate = Number(opts.limitRate ?? "0");
  if (!Number.isFinite(limitRate) || limitRate < 0) throw usage("--limit-rate is bytes per second");
  const r = c.resolver();
  const root = await r.ensureFolder(dest);
  const { items, folders } = collect(sources);
  // Folders first, in order (a parent before its children), remembered by their path.
  const made = new Map<string, File>([["", root]]);
  for (const dirs of folders) {
    const parent = made.get(dirs.slice(0, -1).join("/"))!;
    made.set(dirs.join("/"), await r.ensureChild(parent.id, dirs[dirs.length - 1]!));
  }
  const base = `/${segments(dest).join("/")}`.replace(/\/$/, "");
  const total = items.reduce((n, i) => n + i.size, 0);
  const progress = createProgress({
    enabled: c.bars,
    total,
    label: items.length === 1 ? "1 file" : `${items.length} files`,
  });
  const deps = { session: c.session(), resolver: r, dir: c.dir, progress, signal: c.signal, limitRate };
  let done: Uploaded[];
  try {
    done = await pool(items, parallel, (item) =>
      uploadOne(
        deps,
        item,
        made.get(item.dirs.join("/"))!,
        `${base}/${[...item.dirs, item.name].join("/")}`,
      ).then((u) => {
        if (!c.bars && !c.json)
          process.stderr.write(`uploaded ${u.path} (${humanBytes(u.file ? Number(u.file.sizeBytes) : 0)})\n`);
        return u;
      }),
    );
  } finally {
    progress.stop();
  }
  const sent = done.reduce((n, u) => n + u.sentBytes, 0);
  return {
    text: `uploaded ${done.length === 1 ? "1 file" : `${done.length} files`} (${humanBytes(total)}, ${humanBytes(sent)} sent) to ${base || "/"}`,
    json: {
      files: done.map((u) => ({
        local: u.local,
        path: u.path,
        id: u.file.id,
        sizeBytes: Number(u.file.sizeBytes),
        sha256: u.file.sha256,
        resumedFrom: u.resumedFrom,
        sentBytes: u.sentBytes,
      })),
    },
  };
}

export async function download(c: Context, path: string, dest?: string) {
  if (!path) throw usage("download needs a path");
  const f = await c.resolver().resolve(path);
  const target = localTarget(f, dest);
  const progress = createProgress({ enabled: c.bars, total: Number(f.sizeBytes), label: basename(target) });
  try {
    const d = await downloadOne(c.session(), f, path, target, progress, c.signal);
    return { text: `downloaded ${path} → ${d.local} (${humanBytes(d.sizeBytes)})`, json: d };
  } finally {
    progress.stop();
  }
}
