// RuntimeOptions.callScope: by default every call runs in the database admission's call scope
// (its checkouts wait within its deadline); a runtime made with callScope: false runs none, so
// its process never puts AsyncLocalStorage's hooks on every promise (the permission service).
import { filev1 } from "@filemesh/contracts";
import { credentials, type ServiceError, status } from "@grpc/grpc-js";
import { afterAll, describe, expect, it } from "vitest";
import { currentCallScope } from "../src/db/admission.js";
import { decodeServiceError, notFound } from "../src/errors.js";
import { createRuntime, type Runtime } from "../src/server.js";
import { loopbackRuntimeOptions } from "../src/testing/index.js";

const open: { rt: Runtime; client: filev1.FileServiceClient }[] = [];

/** A runtime whose GetFile tells, in its error's message, what scope its handler saw (after an await). */
async function serve(callScope: boolean | undefined) {
  const rt = createRuntime(loopbackRuntimeOptions("file", callScope === undefined ? {} : { callScope }));
  rt.addPartial(filev1.FileServiceService, {
    getFile: async (_req, ctx) => {
      await new Promise((r) => setImmediate(r));
      const scope = currentCallScope();
      throw notFound(
        "FILE_NOT_FOUND",
        scope === undefined ? "none" : scope === ctx ? "this call" : "another",
      );
    },
  });
  await rt.start();
  const client = new filev1.FileServiceClient(`127.0.0.1:${rt.port}`, credentials.createInsecure());
  open.push({ rt, client });
  return client;
}

const scopeSeen = (client: filev1.FileServiceClient) =>
  new Promise<string>((resolve, reject) =>
    client.getFile(filev1.GetFileRequest.fromPartial({ fileId: "x" }), (err: ServiceError | null) => {
      if (!err || err.code !== status.NOT_FOUND) return reject(err ?? new Error("answered OK"));
      resolve(decodeServiceError(err).message);
    }),
  );

afterAll(async () => {
  for (const { rt, client } of open) {
    client.close();
    await rt.shutdown();
  }
});

describe("the call scope", () => {
  it("is the call's own context by default, across awaits", async () => {
    const client = await serve(undefined);
    expect(await Promise.all([scopeSeen(client), scopeSeen(client)])).toEqual(["this call", "this call"]);
  });

  it("is absent when the runtime is made with callScope: false", async () => {
    const client = await serve(false);
    expect(await scopeSeen(client)).toBe("none");
  });
});
