// Whole-object PUTs and DELETEs without the SDK's per-command pipeline. A small upload's
// PutObject through lib-storage's Upload and the client's middleware stack (endpoint rules,
// serializers, flexible checksums, retry strategy, signing, deserializers) cost more of the file
// service's CPU than the rest of the store's work: the SDK's pipeline was 12–15 % of its busy time
// in the upload burst (bench/README.md). Here the request is signed by the SDK's own SigV4 signer
// (`x-amz-content-sha256: UNSIGNED-PAYLOAD`, as presigned URLs are) and sent by the client's own
// request handler (its sockets, agent and timeouts), addressed as the SDK addresses the bucket
// (`shapeOf`). Failures look like the SDK's: a 4xx is an error named by S3's <Code> with `$fault`
// "client" and `$metadata.httpStatusCode`; a 5xx, 429 or a connection failure is retried (the
// body is in memory), twice, then given to the caller as the SDK would (`$fault` "server", or
// the network error), for storeFault to turn into UNAVAILABLE.
import type { S3Client } from "@aws-sdk/client-s3";
import { shapeOf, signerOf } from "./s3-presign.js";

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

/** PUT and DELETE of whole objects of `bucket` by keys needing no escaping (the store's keys). */
export function getLeanRequests(client: S3Client, bucket: string) {
  const signer = signerOf(client);
  const shape = shapeOf(client, bucket);
  const handler = client.config.requestHandler as unknown as Handler;

  const send = async (method: "PUT" | "DELETE", key: string, body?: Buffer): Promise<void> => {
    const s = await shape();
    for (let attempt = 1; ; attempt++) {
      // Signed per attempt: the SDK corrects its clock by the offset a skew error taught it.
      const offset = (client.config as { systemClockOffset?: number }).systemClockOffset ?? 0;
      const signed = await signer.sign(
        {
          method,
          protocol: s.protocol,
          hostname: s.hostname,
          ...(s.port !== undefined ? { port: s.port } : {}),
          path: s.prefix + key,
          query: {},
          headers: {
            host: s.host,
            "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
            ...(body ? { "content-length": String(body.length) } : {}),
          },
          ...(body ? { body } : {}),
        },
        { signingDate: new Date(Date.now() + offset) },
      );
      let status: number;
      let text: Buffer;
      let requestId: string | undefined;
      try {
        const { response } = await handler.handle(signed);
        status = response.statusCode;
        requestId = response.headers["x-amz-request-id"];
        text = await readAll(response.body);
      } catch (err) {
        if (attempt >= ATTEMPTS) throw err;
        await backOff(attempt);
        continue;
      }
      if (status >= 200 && status < 300) return;
      const xml = text.toString("utf8");
      const err = new S3AnswerError(status, tag(xml, "Code"), tag(xml, "Message"), requestId);
      if (!RETRY.has(status) || attempt >= ATTEMPTS) throw err;
      await backOff(attempt);
    }
  };

  return {
    /** Stores `body` whole under `key` (one PutObject). */
    put: (key: string, body: Buffer) => send("PUT", key, body),
    /** Deletes `key` (DeleteObject; an absent key is no error, as in S3). */
    delete: (key: string) => send("DELETE", key),
  };
}
