// The `filemesh` CLI (clients/cli) against a live mesh behind the local gateway, run as child
// processes with their own XDG_CONFIG_HOME: login and the stored token, the file commands,
// a folder tree up and down with equal SHA-256, sharing, links, --json, exit codes and
// reasons, progress bars on a TTY (under `script`), and an upload interrupted with SIGINT then
// resumed from the server's committed offset.
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { filev1 } from "@filemesh/contracts";
import { credentials, Metadata } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rest, startTarget, type Target } from "../conformance/target.js";
import { type Ran, root, run } from "./run.js";

const bin = join(root, "clients", "cli", "bin", "filemesh.mjs");
const PASSWORD = "cli test password 1";
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const shaFile = (p: string) => sha(readFileSync(p));

describe("filemesh CLI", () => {
  let target: Target;
  let server: string;
  const tmp = mkdtempSync(join(tmpdir(), "filemesh-cli-"));
  const id = randomBytes(5).toString("hex");
  const ada = { email: `cli-ada-${id}@example.com`, cfg: join(tmp, "ada-config") };
  const bob = { email: `cli-bob-${id}@example.com`, cfg: join(tmp, "bob-config") };

  const envOf = (cfg: string) => ({ XDG_CONFIG_HOME: cfg, FILEMESH_SERVER: server, FILEMESH_PLAINTEXT: "1" });
  const cli = (cfg: string, args: string[], input?: string): Promise<Ran> =>
    run(process.execPath, [bin, ...args], { env: envOf(cfg), ...(input === undefined ? {} : { input }) });
  const json = async (cfg: string, args: string[]) => {
    const r = await cli(cfg, [...args, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout);
  };

  beforeAll(async () => {
    target = await startTarget({
      services: ["auth", "user", "permission", "file"],
      // A Redis database of its own: failed-login counters are per client address, and every
      // other suite's wrong passwords through a gateway come from 127.0.0.1 too.
      env: {
        FILES_READY_ON_COMMIT: "true",
        REDIS_URL: `redis://127.0.0.1:6379/${1 + Math.floor(Math.random() * 15)}`,
      },
      // 256 KiB parts: an interrupted 8 MiB upload has stored parts to resume from.
      serviceEnv: { file: { UPLOAD_PART_BYTES: String(256 << 10) } },
    });
    server = new URL(target.base).host; // native gRPC is proxied on the gateway's port
    for (const u of [ada, bob]) {
      const r = await rest(target.base, "POST", "/v1/auth:register", {
        email: u.email,
        password: PASSWORD,
        displayName: "CLI test",
      });
      expect(r.status).toBe(200);
    }
  });
  afterAll(async () => {
    await target?.stop();
  });

  it("login stores a refresh token with mode 0600 and no password; whoami answers", async () => {
    const r = await cli(ada.cfg, ["login", "--email", ada.email, "--password-stdin"], `${PASSWORD}\n`);
    expect(r.code, r.stderr).toBe(0);
    const file = join(ada.cfg, "filemesh", "credentials.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(ada.cfg, "filemesh")).mode & 0o777).toBe(0o700);
    const text = readFileSync(file, "utf8");
    expect(text).not.toContain(PASSWORD);
    expect(JSON.parse(text).refreshToken).toMatch(/.{20,}/);
    const me = await json(ada.cfg, ["whoami"]);
    expect(me.email).toBe(ada.email);
    const b = await cli(bob.cfg, ["login", "--email", bob.email, "--password-stdin"], PASSWORD);
    expect(b.code, b.stderr).toBe(0);
  });

  it("an expired access token is refreshed silently (the stored refresh token rotates)", async () => {
    const file = join(ada.cfg, "filemesh", "credentials.json");
    const before = JSON.parse(readFileSync(file, "utf8"));
    writeFileSync(file, JSON.stringify({ ...before, accessExpires: 0 }), { mode: 0o600 });
    const me = await json(ada.cfg, ["whoami"]);
    expect(me.email).toBe(ada.email);
    const after = JSON.parse(readFileSync(file, "utf8"));
    expect(after.refreshToken).not.toBe(before.refreshToken);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it("a wrong password exits 3 with INVALID_CREDENTIALS, nothing stored; no login exits 3", async () => {
    const cfg = join(tmp, "wrong-config");
    const r = await cli(
      cfg,
      ["login", "--email", ada.email, "--password-stdin", "--json"],
      "not the password",
    );
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("(INVALID_CREDENTIALS)");
    expect(r.stderr).toContain("hint:");
    expect(JSON.parse(r.stdout).error).toMatchObject({ reason: "INVALID_CREDENTIALS", exit: 3 });
    expect(existsSync(join(cfg, "filemesh", "credentials.json"))).toBe(false);
    const w = await cli(cfg, ["whoami", "--json"]);
    expect(w.code).toBe(3);
    expect(JSON.parse(w.stdout).error.reason).toBe("NOT_LOGGED_IN");
  });

  it("usage errors exit 2; a missing path exits 4 with PATH_NOT_FOUND", async () => {
    expect((await cli(ada.cfg, ["frobnicate"])).code).toBe(2);
    expect((await cli(ada.cfg, ["share", "/x", ada.email, "admin"])).code).toBe(2);
    const r = await cli(ada.cfg, ["ls", "/no/such/folder", "--json"]);
    expect(r.code).toBe(4);
    expect(JSON.parse(r.stdout).error).toMatchObject({ reason: "PATH_NOT_FOUND", exit: 4 });
    expect(r.stderr).toContain("/no does not exist (PATH_NOT_FOUND)");
  });

  const tree = join(tmp, "tree");
  const local: Record<string, Buffer> = {
    "a.txt": Buffer.from("hello from the cli\n"),
    "empty.txt": Buffer.alloc(0),
    "sub/b.bin": randomBytes(300_000),
    "sub/deeper/c.bin": randomBytes(1_100_000),
  };

  it("mkdir, upload a folder tree in parallel, ls, and download each file with the same SHA-256", async () => {
    for (const [p, b] of Object.entries(local)) {
      mkdirSync(join(tree, p, ".."), { recursive: true });
      writeFileSync(join(tree, p), b);
    }
    const made = await json(ada.cfg, ["mkdir", "/backup/2026"]);
    expect(made).toMatchObject({ kind: "folder", name: "2026" });
    const up = await json(ada.cfg, ["upload", tree, "/backup/2026", "--parallel", "3"]);
    expect(up.files).toHaveLength(4);
    for (const f of up.files) {
      const rel = f.path.replace("/backup/2026/tree/", "");
      expect(f.sha256).toBe(sha(local[rel]!));
      expect(f.sentBytes).toBe(local[rel]!.length);
    }
    const ls = await json(ada.cfg, ["ls", "/backup/2026/tree"]);
    expect(ls.files.map((f: { name: string }) => f.name).sort()).toEqual(["a.txt", "empty.txt", "sub"]);
    const text = await cli(ada.cfg, ["ls", "/backup/2026/tree/sub"]);
    expect(text.stdout).toMatch(/^d .* deeper\/$/m);
    expect(text.stdout).toMatch(/^- +293\.0 KiB .* b\.bin$/m);
    const out = join(tmp, "down");
    mkdirSync(out);
    for (const [p, b] of Object.entries(local)) {
      const d = await json(ada.cfg, ["download", `/backup/2026/tree/${p}`, out]);
      expect(d.sha256).toBe(sha(b));
      expect(d.via).toBe("data-plane"); // a ticket and one HTTP GET, not a ReadFile stream
      expect(shaFile(d.local)).toBe(sha(b));
    }
  });

  it("download resumes from the bytes already in its .part file; a wrong part is refused", async () => {
    const c = local["sub/deeper/c.bin"]!;
    const f = (await json(ada.cfg, ["ls", "/backup/2026/tree/sub/deeper/c.bin"])).files[0];
    const target = join(tmp, "resumed-c.bin");
    const part = `${target}.${f.versionId.slice(0, 8)}.part`;
    writeFileSync(part, c.subarray(0, 400_000)); // what an interrupted run left
    const d = await json(ada.cfg, ["download", "/backup/2026/tree/sub/deeper/c.bin", target]);
    expect(d).toMatchObject({ resumedFrom: 400_000, sizeBytes: c.length, sha256: sha(c), via: "data-plane" });
    expect(shaFile(target)).toBe(sha(c));
    expect(existsSync(part)).toBe(false);
    writeFileSync(part, randomBytes(1000)); // bytes that are not the file's
    const bad = await cli(ada.cfg, ["download", "/backup/2026/tree/sub/deeper/c.bin", target, "--json"]);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout).error.reason).toBe("CHECKSUM_MISMATCH");
    expect(existsSync(part)).toBe(false);
  });

  it("mv renames and moves, rm puts in the trash, restore brings it back", async () => {
    const moved = await json(ada.cfg, ["mv", "/backup/2026/tree/a.txt", "/backup/renamed.txt"]);
    expect(moved.name).toBe("renamed.txt");
    const names = async (p: string) =>
      (await json(ada.cfg, ["ls", p])).files.map((f: { name: string }) => f.name) as string[];
    expect(await names("/backup")).toContain("renamed.txt");
    expect(await names("/backup/2026/tree")).not.toContain("a.txt");
    await json(ada.cfg, ["mv", "/backup/renamed.txt", "/backup/2026"]); // into a folder
    expect(await names("/backup/2026")).toContain("renamed.txt");
    const clash = await cli(ada.cfg, ["mv", "/backup/2026/renamed.txt", "/backup/2026/tree/empty.txt"]);
    expect(clash.code).toBe(5);
    await json(ada.cfg, ["rm", "/backup/2026/renamed.txt"]);
    expect(await names("/backup/2026")).not.toContain("renamed.txt");
    expect((await cli(ada.cfg, ["download", "/backup/2026/renamed.txt", tmp])).code).toBe(4);
    await json(ada.cfg, ["restore", "/backup/2026/renamed.txt"]);
    expect(await names("/backup/2026")).toContain("renamed.txt");
  });

  it("share with a second user by email, who then downloads it by id", async () => {
    const info = await json(ada.cfg, ["ls", "/backup/2026/tree/sub/b.bin"]);
    const fileId = info.files[0].id;
    const before = await cli(bob.cfg, ["download", `id:${fileId}`, join(tmp, "bob-before.bin"), "--json"]);
    expect(before.code).toBe(4); // a denial looks like a missing file
    expect(JSON.parse(before.stdout).error.reason).toBe("FILE_NOT_FOUND");
    const g = await json(ada.cfg, ["share", "/backup/2026/tree/sub/b.bin", bob.email, "viewer"]);
    expect(g).toMatchObject({ fileId, role: "viewer" });
    expect(g.subject).toMatch(/^user:/);
    const d = await json(bob.cfg, ["download", `id:${fileId}`, join(tmp, "bob.bin")]);
    expect(shaFile(join(tmp, "bob.bin"))).toBe(sha(local["sub/b.bin"]!));
    expect(d.sizeBytes).toBe(300_000);
    const nobody = await cli(ada.cfg, [
      "share",
      "/backup/2026/tree/sub/b.bin",
      `nobody-${id}@example.com`,
      "viewer",
    ]);
    expect(nobody.code).toBe(4);
    expect(nobody.stderr).toContain("(USER_NOT_FOUND)");
  });

  it("link creates a password-protected share link whose URL serves the file", async () => {
    const l = await json(ada.cfg, [
      "link",
      "/backup/2026/tree/sub/b.bin",
      "--password",
      "link secret 1",
      "--expires",
      "1d",
      "--max-downloads",
      "3",
    ]);
    expect(l).toMatchObject({ role: "viewer", hasPassword: true, maxDownloads: 3 });
    expect(new Date(l.expireTime).getTime()).toBeGreaterThan(Date.now() + 23 * 3600_000);
    expect(l.url).toBe(`http://${server}/v1/links/${l.token}/content`);
    const res = await fetch(`${l.url}?password=${encodeURIComponent("link secret 1")}`);
    expect(res.status).toBe(200);
    expect(sha(Buffer.from(await res.arrayBuffer()))).toBe(sha(local["sub/b.bin"]!));
  });

  it("usage reports the bytes and files stored", async () => {
    const u = await json(ada.cfg, ["usage"]);
    const total = Object.values(local).reduce((n, b) => n + b.length, 0);
    expect(u.usedBytes).toBeGreaterThanOrEqual(total);
    expect(u.fileCount).toBeGreaterThanOrEqual(4);
    const text = await cli(ada.cfg, ["usage"]);
    expect(text.stdout).toMatch(/used.*files/);
  });

  it("on a TTY (under script) the upload shows a bar per file and a total with rate and ETA", async () => {
    const file = join(tmp, "tty.bin");
    writeFileSync(file, randomBytes(2_000_000));
    // 4 MiB/s: about half a second, so bars are drawn part-way too (10 frames a second).
    const cmd = `${process.execPath} ${bin} upload ${file} /tty --limit-rate ${4 << 20}`;
    const r = await run("script", ["-q", "-e", "-c", cmd, "/dev/null"], { env: envOf(ada.cfg) });
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/100% .*tty\.bin/);
    expect(r.stdout).toMatch(/1 file total\s+\S+ \S+\/s\s+ETA/);
    expect(r.stdout).toMatch(/[█░]{24} +100%/); // the bar itself, finished
    expect(r.stdout).toMatch(/█+░+ +\d+% /); // and part-way
    // Without a TTY (every other test here) no bar is drawn.
    const plain = await cli(ada.cfg, ["upload", file, "/tty-plain"]);
    expect(plain.stderr).not.toContain("ETA");
    expect(plain.stderr).toContain("uploaded /tty-plain/tty.bin");
  });

  it("an upload interrupted with SIGINT resumes from the server's committed offset to the same SHA-256", async () => {
    const size = 8 << 20;
    const body = randomBytes(size);
    const file = join(tmp, "big.bin");
    writeFileSync(file, body);
    const login = await rest(target.base, "POST", "/v1/auth:login", { email: ada.email, password: PASSWORD });
    const files = new filev1.FileServiceClient(server, credentials.createInsecure());
    const md = new Metadata();
    md.set("authorization", `Bearer ${login.body.accessToken}`);
    const committed = (uploadId: string) =>
      new Promise<number>((resolve, reject) =>
        files.getUpload({ uploadId }, md, (err, res) =>
          err ? reject(err) : resolve(Number(res.upload!.committedSizeBytes)),
        ),
      );
    const state = join(ada.cfg, "filemesh", "uploads.json");
    const uploadIdOf = () => {
      try {
        const all = JSON.parse(readFileSync(state, "utf8")) as Record<string, { uploadId: string }>;
        return Object.entries(all).find(([k]) => k.includes("big.bin"))?.[1].uploadId;
      } catch {
        return undefined;
      }
    };
    try {
      // 2 MiB/s, so the upload is still running when interrupted after at least 1 MiB is stored.
      const child = spawn(
        process.execPath,
        [bin, "upload", file, "/resume", "--limit-rate", String(2 << 20)],
        {
          env: { ...process.env, ...envOf(ada.cfg) },
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let stderr = "";
      child.stderr.on("data", (d) => {
        stderr += d;
      });
      const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
      let uploadId: string | undefined;
      const deadline = Date.now() + 30_000;
      for (;;) {
        uploadId ??= uploadIdOf();
        if (uploadId && (await committed(uploadId)) >= 1 << 20) break;
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no progress: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      child.kill("SIGINT");
      expect(await exited).toBe(130);
      expect(stderr).toContain("interrupted");
      // The server may finish storing the part it had in hand: wait until the offset is stable.
      let stored = await committed(uploadId!);
      for (let again = -1; again !== stored; ) {
        await new Promise((r) => setTimeout(r, 300));
        again = stored;
        stored = await committed(uploadId!);
      }
      expect(stored).toBeGreaterThanOrEqual(1 << 20);
      expect(stored).toBeLessThan(size);
      expect(stored % (256 << 10)).toBe(0);

      const again = await json(ada.cfg, ["upload", file, "/resume"]);
      expect(again.files[0]).toMatchObject({
        resumedFrom: stored,
        sentBytes: size - stored,
        sha256: sha(body),
      });
      const d = await json(ada.cfg, ["download", "/resume/big.bin", join(tmp, "big-down.bin")]);
      expect(shaFile(d.local)).toBe(sha(body));
      expect(uploadIdOf()).toBeUndefined(); // the finished session is forgotten
    } finally {
      files.close();
    }
  });

  it("logout ends the session and removes the stored token", async () => {
    const r = await cli(bob.cfg, ["logout"]);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(bob.cfg, "filemesh", "credentials.json"))).toBe(false);
    expect((await cli(bob.cfg, ["whoami"])).code).toBe(3);
  });

  it("is installed as a workspace bin: npx filemesh --help", async () => {
    const r = await run("npx", ["--no-install", "filemesh", "--help"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("Exit codes: 0 ok, 1 error, 2 usage, 3");
  });
});
