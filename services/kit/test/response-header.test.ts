// Response headers (gRPC initial metadata) from handlers: ctx.setHeader / ctx.sendHeader on
// server-streaming and unary calls, against a real server on loopback.

import { filev1 } from "@filemesh/contracts";
import { credentials, type Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeServiceError, notFound } from "../src/errors.js";
import type { CallContext } from "../src/grpc/context.js";
import { createRuntime, type Runtime } from "../src/server.js";
import { loopbackRuntimeOptions } from "../src/testing/index.js";

let rt: Runtime;
let client: filev1.FileServiceClient;
let release: () => void = () => {};

const body = (data: string) => ({ contentType: "text/plain", data: Buffer.from(data), extensions: [] });

/** What each file id makes the streaming handler do. */
async function* content(req: filev1.GetFileContentRequest, ctx: CallContext) {
  switch (req.fileId) {
    case "ok":
      ctx.setHeader("Content-Disposition", 'attachment; filename="a.txt"');
      ctx.setHeader("x-content-type-options", "nosniff");
      yield body("one");
      yield body("two");
      return;
    case "early": // sent before the handler has anything to say
      ctx.setHeader("x-early", "yes");
      ctx.sendHeader();
      await new Promise<void>((r) => {
        release = r;
      });
      yield body("late");
      return;
    case "fails":
      ctx.setHeader("x-not-sent", "1");
      throw notFound("FILE_NOT_FOUND", "no such file");
    case "too-late":
      yield body("first");
      ctx.setHeader("x-after", "1");
      return;
    case "reserved":
      ctx.setHeader("content-type", "text/html");
      yield body("x");
      return;
    case "grpc":
      ctx.setHeader("grpc-status", "0");
      yield body("x");
      return;
    case "injection":
      ctx.setHeader("x-name", "a\r\nset-cookie: s=1");
      yield body("x");
      return;
  }
}

beforeAll(async () => {
  rt = createRuntime(loopbackRuntimeOptions("file"));
  rt.addPartial(filev1.FileServiceService, {
    getFileContent: content,
    getFile: async (_req, ctx) => {
      ctx.setHeader("x-unary", "u");
      return { file: undefined };
    },
  });
  await rt.start();
  client = new filev1.FileServiceClient(`127.0.0.1:${rt.port}`, credentials.createInsecure());
});
afterAll(async () => {
  client?.close();
  await rt?.shutdown();
});

interface Streamed {
  /** Initial metadata, and how many messages had arrived when it did. */
  header?: { md: Metadata; afterMessages: number };
  data: string[];
  error?: ServiceError;
}

function stream(fileId: string, onHeader?: () => void): Promise<Streamed> {
  const out: Streamed = { data: [] };
  const call = client.getFileContent(filev1.GetFileContentRequest.fromPartial({ fileId }));
  call.on("metadata", (md: Metadata) => {
    out.header = { md, afterMessages: out.data.length };
    onHeader?.();
  });
  call.on("data", (m: { data: Buffer }) => out.data.push(m.data.toString()));
  return new Promise((resolve) => {
    call.on("error", (err: ServiceError) => {
      out.error = err;
      resolve(out);
    });
    call.on("end", () => resolve(out));
  });
}

describe("response headers", () => {
  it("go out before the first message of a stream", async () => {
    const got = await stream("ok");
    expect(got.error).toBeUndefined();
    expect(got.data).toEqual(["one", "two"]);
    expect(got.header?.afterMessages).toBe(0);
    expect(got.header?.md.get("content-disposition")).toEqual(['attachment; filename="a.txt"']);
    expect(got.header?.md.get("x-content-type-options")).toEqual(["nosniff"]);
  });

  it("can be sent before the handler yields anything", async () => {
    const got = stream("early", () => release());
    // The handler waits for release(), which only the headers' arrival calls.
    const done = await got;
    expect(done.header?.md.get("x-early")).toEqual(["yes"]);
    expect(done.data).toEqual(["late"]);
  });

  it("are not sent when the call fails before its first message", async () => {
    const got = await stream("fails");
    expect(decodeServiceError(got.error as ServiceError)).toMatchObject({
      code: status.NOT_FOUND,
      reason: "FILE_NOT_FOUND",
    });
    expect(got.header?.md.get("x-not-sent") ?? []).toEqual([]);
    expect(got.error?.metadata.get("x-not-sent")).toEqual([]);
  });

  it("refuse late, reserved and unprintable headers (a bug: INTERNAL, nothing injected)", async () => {
    const late = await stream("too-late");
    expect(late.data).toEqual(["first"]);
    expect(late.error?.code).toBe(status.INTERNAL);
    for (const id of ["reserved", "grpc", "injection"]) {
      const got = await stream(id);
      expect(got.error?.code, id).toBe(status.INTERNAL);
      expect(got.data, id).toEqual([]);
      expect(got.error?.metadata.get("set-cookie"), id).toEqual([]);
      expect(got.header?.md.get("content-type") ?? [], id).not.toContain("text/html");
    }
  });

  it("go out with a unary response", async () => {
    const md = await new Promise<Metadata>((resolve, reject) => {
      const call = client.getFile(filev1.GetFileRequest.fromPartial({ fileId: "x" }), (err) => {
        if (err) reject(err);
      });
      call.on("metadata", resolve);
    });
    expect(md.get("x-unary")).toEqual(["u"]);
  });
});
