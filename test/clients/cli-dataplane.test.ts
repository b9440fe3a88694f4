// The CLI's data-plane GET (clients/cli/src/download.ts fetchInto) against a local HTTP server
// playing the data URL: a presigned URL gets a Range for the ticket's window and must answer
// 206; a refusal carries the service's reason; a body cut short is DOWNLOAD_CUT, and what
// arrived stays in the part file.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { filev1 } from "@filemesh/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fetchInto } from "../../clients/cli/src/download.js";
import type { Session } from "../../clients/cli/src/session.js";

const content = Buffer.from("0123456789".repeat(100)); // 1,000 bytes
let server: Server;
let base: string;
let seen: IncomingHttpHeaders[] = [];
let answer: "ranged" | "whole" | "cut" | "expired" = "ranged";

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(req.headers);
    if (answer === "expired") {
      res.writeHead(410, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          code: 9,
          message: "the transfer ticket has expired; ask for a new one",
          details: [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "TICKET_EXPIRED" }],
        }),
      );
      return;
    }
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? "");
    if (answer === "whole" || !m) {
      res.writeHead(200, { "content-length": content.length }).end(content);
      return;
    }
    const body = content.subarray(Number(m[1]), Number(m[2]) + 1);
    res.writeHead(206, { "content-length": body.length, "content-range": `bytes ${m[1]}-${m[2]}/1000` });
    if (answer === "cut") {
      res.write(body.subarray(0, 10)); // headers and 10 bytes, then the connection breaks
      setTimeout(() => res.destroy(), 50);
      return;
    }
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = server.address() as { port: number };
  base = `http://127.0.0.1:${addr.port}`;
});
afterAll(() => server.close());

const session = { creds: { server: "127.0.0.1:1", plaintext: true } } as unknown as Session;
const presigned = (offset: number, length: number) =>
  filev1.CreateDownloadTicketResponse.fromPartial({
    url: `${base}/bucket/key?X-Amz-Signature=x`,
    ticket: "",
    offset: String(offset),
    length: String(length),
    sizeBytes: "1000",
  });

describe("the CLI's data-plane GET", () => {
  const dir = mkdtempSync(join(tmpdir(), "cli-dp-"));

  it("asks a presigned URL for the ticket's window and appends it to the part file", async () => {
    seen = [];
    answer = "ranged";
    const part = join(dir, "a.part");
    writeFileSync(part, content.subarray(0, 100)); // what an earlier run left
    let last = 0;
    await fetchInto(
      session,
      presigned(100, 900),
      part,
      (n) => (last = n),
      new AbortController().signal,
      "/a",
    );
    expect(seen[0]!.range).toBe("bytes=100-999");
    expect(readFileSync(part).equals(content)).toBe(true);
    expect(last).toBe(900);
  });

  it("refuses a whole answer to a ranged request, and a cut body, keeping what arrived", async () => {
    answer = "whole";
    const part = join(dir, "b.part");
    writeFileSync(part, "");
    await expect(
      fetchInto(session, presigned(100, 900), part, () => {}, new AbortController().signal, "/b"),
    ).rejects.toMatchObject({ reason: "HTTP_200" });
    expect(readFileSync(part).length).toBe(0);
    answer = "cut";
    await expect(
      fetchInto(session, presigned(100, 900), part, () => {}, new AbortController().signal, "/b"),
    ).rejects.toMatchObject({ reason: "DOWNLOAD_CUT" });
    expect(readFileSync(part).equals(content.subarray(100, 110))).toBe(true);
  });

  it("an unreachable data plane is DATA_ENDPOINT_UNAVAILABLE, not a raw socket error", async () => {
    const t = filev1.CreateDownloadTicketResponse.fromPartial({
      url: "/v1/data/T.S",
      ticket: "T.S",
      length: "5",
    });
    await expect(
      fetchInto(session, t, join(dir, "d.part"), () => {}, new AbortController().signal, "/d"),
    ).rejects.toMatchObject({ reason: "DATA_ENDPOINT_UNAVAILABLE", exit: 1 });
  });

  it("gives the service's reason for a refusal; a data path goes to the logged-in server", async () => {
    answer = "expired";
    const part = join(dir, "c.part");
    const port = new URL(base).port;
    const own = { creds: { server: `127.0.0.1:${port}`, plaintext: true } } as unknown as Session;
    seen = [];
    const t = filev1.CreateDownloadTicketResponse.fromPartial({
      url: "/v1/data/T.S",
      ticket: "T.S",
      length: "5",
    });
    await expect(fetchInto(own, t, part, () => {}, new AbortController().signal, "/c")).rejects.toMatchObject(
      {
        reason: "TICKET_EXPIRED",
        exit: 1,
      },
    );
    expect(seen).toHaveLength(1);
    expect(seen[0]!.range).toBeUndefined(); // a data endpoint's window needs no Range from 0
  });
});
