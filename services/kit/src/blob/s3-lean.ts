// Whole-object PUTs and DELETEs, and streamed multipart puts, without the SDK's per-command
// pipeline. A small upload's PutObject through lib-storage's Upload and the client's middleware
// stack (endpoint rules, serializers, flexible checksums, retry strategy, signing, deserializers)
// cost more of the file service's CPU than the rest of the store's work: the SDK's pipeline was
// 12–15 % of its busy time in the upload burst (bench/README.md). Here the request is signed as
// the SDK's SigV4 signer signs it, at less cost (s3-sign.ts; `x-amz-content-sha256:
// UNSIGNED-PAYLOAD`, as presigned URLs are), sent by the client's own request handler (its
// sockets, agent and timeouts) and addressed as the SDK addresses the bucket
// (`shapeOf`). Failures look like the SDK's: a 4xx is an error named by S3's <Code> with `$fault`
// "client" and `$metadata.httpStatusCode`; a 5xx, 429 or a connection failure is retried (the
// body is in memory), twice, then given to the caller as the SDK would (`$fault` "server", or
// the network error), for storeFault to turn into UNAVAILABLE.
//
// A body longer than one part (`putParts`) is a multipart upload whose parts go the same way:
// each part's chunks are written as they arrived (lib-storage concatenated them into one buffer
// per part), and unsigned — over plain HTTP the SDK hashed every part once more for its
// signature, a second SHA-256 pass per byte beside the one that verifies the content. Together
// they were 17 % of the file service's busy time in a 256 MiB upload (bench/README.md).
import { Readable } from "node:stream";
import type { S3Client } from "@aws-sdk/client-s3";
import { PartCutter } from "./blob-store.js";
import { shapeOf } from "./s3-presign.js";
import { headerSigner } from "./s3-sign.js";

/** Statuses worth another attempt: throttling and the store's own faults. */
const RETRY = new Set([429, 500, 502, 503, 504]);
const ATTEMPTS = 3;

interface Handler {
  handle(request: unknown): Promise<{
    response: { statusCode: number; headers: Record<string, string>; body?: AsyncIterable<Uint8Array> };
  }>;
}

/** An S3 error answer in the shape of the SDK's service exceptions (name, $fault, $metadata). */
export class S3AnswerError extends Error {
  readonly $fault: "client" | "server";
  readonly $metadata: { httpStatusCode: number; requestId?: string | undefined };
  constructor(status: number, code: string, message: string, requestId?: string) {
    super(message || `S3 answered ${status}`);
    this.name = code || (status === 404 ? "NotFound" : `Http${status}`);
    this.$fault = status >= 500 || status === 429 ? "server" : "client";
    this.$metadata = { httpStatusCode: status, requestId };
  }
}

const tag = (xml: string, name: string) => xml.match(new RegExp(`<${name}>([^<]*)</${name}>`))?.[1] ?? "";

async function readAll(body: AsyncIterable<Uint8Array> | undefined): Promise<Buffer> {
  if (!body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(Buffer.from(c.buffer, c.byteOffset, c.byteLength));
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

/** Before attempt `attempt + 1`: 50 ms, then 200 ms, each ± 50 % jitter. */
const backOff = (attempt: number) =>
  new Promise((r) => setTimeout(r, 50 * 4 ** (attempt - 1) * (0.5 + Math.random())));

/** Escapes text for an XML element's content. */
const xmlText = (v: string) => v.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

type Body = Buffer | readonly Uint8Array[];

interface Answer {
  headers: Record<string, string>;
  text: string;
}

/** PUT and DELETE of whole objects, and multipart puts, of `bucket` by keys needing no escaping (the store's keys). */
export function getLeanRequests(client: S3Client, bucket: string) {
  const sign = headerSigner(client);
  const shape = shapeOf(client, bucket);
  const handler = client.config.requestHandler as unknown as Handler;

  /**
   * One request, retried as the module's header says. `body` is a buffer or the chunks of one
   * part (`length` bytes), sent as they are. CompleteMultipartUpload may answer 200 with an
   * error in its body: `errorIn200` reads it as a server fault.
   */
  const request = async (
    method: "PUT" | "DELETE" | "POST",
    key: string,
    query: Record<string, string>,
    body?: Body,
    errorIn200 = false,
  ): Promise<Answer> => {
    const s = await shape();
    const length = body === undefined ? undefined : Buffer.isBuffer(body) ? body.length : sumOf(body);
    for (let attempt = 1; ; attempt++) {
      // Signed per attempt: the SDK corrects its clock by the offset a skew error taught it.
      const offset = (client.config as { systemClockOffset?: number }).systemClockOffset ?? 0;
      const signed = await sign(
        {
          method,
          protocol: s.protocol,
          hostname: s.hostname,
          ...(s.port !== undefined ? { port: s.port } : {}),
          path: s.prefix + key,
          query,
          headers: {
            host: s.host,
            "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
            ...(length !== undefined ? { "content-length": String(length) } : {}),
          },
          // A part's chunks, streamed as they are (the handler pipes a Readable); fresh per attempt.
          ...(body === undefined ? {} : { body: Buffer.isBuffer(body) ? body : Readable.from(body) }),
        },
        new Date(Date.now() + offset),
      );
      let status: number;
      let text: Buffer;
      let headers: Record<string, string>;
      try {
        const { response } = await handler.handle(signed);
        status = response.statusCode;
        headers = response.headers;
        text = await readAll(response.body);
      } catch (err) {
        if (attempt >= ATTEMPTS) throw err;
        await backOff(attempt);
        continue;
      }
      const xml = text.toString("utf8");
      if (status >= 200 && status < 300 && !(errorIn200 && xml.includes("<Error>"))) {
        return { headers, text: xml };
      }
      const err = new S3AnswerError(
        status >= 300 ? status : 500,
        tag(xml, "Code"),
        tag(xml, "Message"),
        headers["x-amz-request-id"],
      );
      if (!RETRY.has(err.$metadata.httpStatusCode) || attempt >= ATTEMPTS) throw err;
      await backOff(attempt);
    }
  };

  /**
   * Stores a body longer than one part under `key` as a multipart upload: `head`, the chunks
   * already read (at least `partBytes` of them), then the rest of `body`. Parts of exactly
   * `partBytes` (the last one shorter), at most `queue` of them in flight, so memory stays
   * within `queue + 1` parts; any failure aborts the upload (its parts go) and is thrown. The
   * bytes stored.
   */
  const putParts = async (
    key: string,
    head: readonly Uint8Array[],
    body: AsyncIterator<Uint8Array>,
    partBytes: number,
    queue = 2,
  ): Promise<number> => {
    const created = await request("POST", key, { uploads: "" });
    const uploadId = tag(created.text, "UploadId");
    if (!uploadId) throw new Error("S3 returned no upload id");
    const etags: string[] = [];
    const inFlight = new Set<Promise<void>>();
    let failure: unknown;
    let size = 0;
    const send = (partNumber: number, chunks: Uint8Array[]) => {
      const sent: Promise<void> = request("PUT", key, { partNumber: String(partNumber), uploadId }, chunks)
        .then(({ headers }) => {
          if (!headers.etag) throw new Error(`S3 returned no ETag for part ${partNumber}`);
          etags[partNumber - 1] = headers.etag;
        })
        .catch((err: unknown) => {
          failure ??= err;
        })
        .finally(() => inFlight.delete(sent));
      inFlight.add(sent);
    };
    try {
      const cutter = new PartCutter(partBytes);
      let parts = 0;
      const sendWhenFree = async (part: Uint8Array[]) => {
        while (inFlight.size >= queue && failure === undefined) await Promise.race(inFlight);
        if (failure !== undefined) throw failure;
        send(++parts, part);
      };
      const take = async (chunk: Uint8Array) => {
        size += chunk.byteLength;
        for (const part of cutter.push(chunk)) await sendWhenFree(part);
      };
      for (const chunk of head) await take(chunk);
      for (let next = await body.next(); !next.done; next = await body.next()) await take(next.value);
      if (cutter.pending > 0 || parts === 0) await sendWhenFree(cutter.rest());
      while (inFlight.size > 0) await Promise.race(inFlight);
      if (failure !== undefined) throw failure;
      const list = etags
        .map((etag, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${xmlText(etag)}</ETag></Part>`)
        .join("");
      await request(
        "POST",
        key,
        { uploadId },
        Buffer.from(`<CompleteMultipartUpload>${list}</CompleteMultipartUpload>`),
        true,
      );
      return size;
    } catch (err) {
      // The parts sent so far go with the upload; whatever is still in flight ends first.
      await Promise.allSettled(inFlight);
      await request("DELETE", key, { uploadId }).catch(() => {});
      throw err;
    }
  };

  return {
    /** Stores `body` whole under `key` (one PutObject). */
    put: async (key: string, body: Buffer) => {
      await request("PUT", key, {}, body);
    },
    putParts,
    /** Deletes `key` (DeleteObject; an absent key is no error, as in S3). */
    delete: async (key: string) => {
      await request("DELETE", key, {});
    },
  };
}

function sumOf(chunks: readonly Uint8Array[]): number {
  let n = 0;
  for (const c of chunks) n += c.byteLength;
  return n;
}
