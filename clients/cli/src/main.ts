// Entry point: parse the arguments, run one command, print text or --json, map errors to the
// documented exit codes (README.md). Ctrl-C cancels transfers; what the server stored stays
// and the same command resumes it.
import { parseArgs } from "node:util";
import { configDir } from "./config.js";
import { type Context, createContext } from "./context.js";
import { EXIT, toCliError, usage } from "./errors.js";
import { ls, mkdir, mv, restore, rm, usageCmd } from "./files.js";
import { login, logout, whoami } from "./login.js";
import { link, share } from "./share.js";
import { download, upload } from "./transfer.js";

export const HELP = `filemesh — files on a filemesh server from the command line (native gRPC)

Usage: filemesh <command> [options]

Commands:
  login [--email E] [--password-stdin]   log in; stores a refresh token (0600), never the password
  logout                                 end the session and forget the stored token
  whoami                                 the logged-in user
  ls [path]                              list a folder (default: your home folder)
  mkdir <path>                           create a folder (and missing parents)
  upload <files or folders…> [dest]      upload in parallel; rerun to resume an interrupted upload
        [--to dest] [--parallel 4] [--limit-rate bytes/s]
  download <path> [dest]                 download a file; rerun to resume
  mv <from> <to>                         move and/or rename
  rm <path>                              move to the trash
  restore <path>                         restore from the trash
  share <path> <user-email|group:id> <role>   grant viewer, editor or owner
  link <path> [--password P] [--expires 7d] [--max-downloads N] [--role viewer|editor]
  usage                                  storage used and quota

Paths: /reports/q3.pdf is below your home folder; id:<file id> names any file you can read.

Options:
  --server host:port   gateway address (FILEMESH_SERVER; default: the one you logged in to, else localhost:8080)
  --plaintext          no TLS (default for localhost; FILEMESH_PLAINTEXT=1)   --tls  force TLS
  --json               machine-readable output on stdout (errors too)
  -h, --help           this text

Exit codes: 0 ok, 1 error, 2 usage, 3 not logged in / auth, 4 not found, 5 conflict or quota, 130 interrupted.
Config: $XDG_CONFIG_HOME/filemesh (else ~/.config/filemesh).`;

const OPTIONS = {
  server: { type: "string" },
  plaintext: { type: "boolean" },
  tls: { type: "boolean" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  email: { type: "string" },
  "password-stdin": { type: "boolean" },
  to: { type: "string" },
  parallel: { type: "string" },
  "limit-rate": { type: "string" },
  password: { type: "string" },
  expires: { type: "string" },
  "max-downloads": { type: "string" },
  role: { type: "string" },
} as const;

type Result = { text: string; json: unknown };
type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>["values"];

function dispatch(c: Context, cmd: string, a: string[], v: Values): Promise<Result> {
  switch (cmd) {
    case "login":
      return login(c, { email: v.email, passwordStdin: v["password-stdin"] });
    case "logout":
      return logout(c);
    case "whoami":
      return whoami(c);
    case "ls":
      return ls(c, a[0]);
    case "mkdir":
      return mkdir(c, a[0] ?? "");
    case "upload":
      return upload(c, a, { to: v.to, parallel: v.parallel, limitRate: v["limit-rate"] });
    case "download":
      return download(c, a[0] ?? "", a[1]);
    case "mv":
      return mv(c, a[0] ?? "", a[1] ?? "");
    case "rm":
      return rm(c, a[0] ?? "");
    case "restore":
      return restore(c, a[0] ?? "");
    case "share":
      return share(c, a[0] ?? "", a[1] ?? "", a[2] ?? "");
    case "link":
      return link(c, a[0] ?? "", {
        password: v.password,
        expires: v.expires,
        maxDownloads: v["max-downloads"],
        role: v.role,
      });
    case "usage":
      return usageCmd(c);
    default:
      throw usage(`unknown command ${cmd}`);
  }
}

export async function main(argv: string[]): Promise<number> {
  const json = argv.includes("--json");
  const abort = new AbortController();
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
    abort.abort();
  };
  process.on("SIGINT", onSigint);
  let c: Context | undefined;
  try {
    let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
    try {
      parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
    } catch (err) {
      throw usage((err as Error).message);
    }
    const { values: v, positionals } = parsed;
    const [cmd, ...rest] = positionals;
    if (v.help || !cmd || cmd === "help") {
      process.stdout.write(`${HELP}\n`);
      return cmd || v.help ? EXIT.OK : EXIT.USAGE;
    }
    c = createContext({
      dir: configDir(),
      ...(v.server ? { server: v.server } : {}),
      plaintext: Boolean(v.plaintext),
      tls: Boolean(v.tls),
      json,
      signal: abort.signal,
    });
    const out = await dispatch(c, cmd, rest, v);
    process.stdout.write(json ? `${JSON.stringify(out.json, null, 2)}\n` : out.text ? `${out.text}\n` : "");
    return EXIT.OK;
  } catch (err) {
    if (interrupted) {
      process.stderr.write(
        "\ninterrupted: what the server stored is kept; run the same command again to resume\n",
      );
      if (json)
        process.stdout.write(
          `${JSON.stringify({ error: { reason: "INTERRUPTED", exit: EXIT.INTERRUPTED } })}\n`,
        );
      return EXIT.INTERRUPTED;
    }
    const e = toCliError(err);
    process.stderr.write(`filemesh: ${e.message} (${e.reason})\n${e.hint ? `hint: ${e.hint}\n` : ""}`);
    if (json) {
      const body = { error: { reason: e.reason, message: e.message, hint: e.hint, exit: e.exit } };
      process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
    }
    return e.exit;
  } finally {
    process.off("SIGINT", onSigint);
    c?.close();
  }
}
