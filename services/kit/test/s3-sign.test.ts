// The lean requests' SigV4 signer (blob/s3-sign.ts) against the SDK's own signer: the same
// Authorization header, byte for byte, for the requests the lean path sends (whole-object PUT
// and DELETE, the multipart calls with their query), with and without a session token, and
// across a change of day (the cached signing key is derived again). Real requests to MinIO
// go through it in blob-store.test.ts.
import { createHash, createHmac } from "node:crypto";
import { S3Client } from "@aws-sdk/client-s3";
import { SignatureV4 } from "@smithy/signature-v4";
import { describe, expect, it } from "vitest";
import { canonicalQuery, headerSigner, type LeanRequest, querySigner } from "../src/blob/s3-sign.js";

type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytes = (d: SourceData): string | Buffer =>
  typeof d === "string"
    ? d
    : ArrayBuffer.isView(d)
      ? Buffer.from(d.buffer, d.byteOffset, d.byteLength)
      : Buffer.from(new Uint8Array(d));

/** The SDK's own SigV4 signer (the reference), on node:crypto. */
class Sha256 {
  readonly #h;
  constructor(secret?: SourceData) {
    this.#h = secret === undefined ? createHash("sha256") : createHmac("sha256", bytes(secret));
  }
  update(d: SourceData): void {
    this.#h.update(bytes(d));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#h.digest());
  }
}
const signerOf = (client: S3Client) =>
  new SignatureV4({
    credentials: client.config.credentials,
    region: client.config.region,
    service: "s3",
    sha256: Sha256,
    uriEscapePath: false,
    applyChecksum: false,
  });

const clientWith = (sessionToken?: string, region = "eu-central-1") =>
  new S3Client({
    region,
    endpoint: "http://127.0.0.1:9000",
    forcePathStyle: true,
    credentials: { accessKeyId: "AKIAEXAMPLE", secretAccessKey: "secret/with+chars=", sessionToken },
  });

const requests: LeanRequest[] = [
  {
    method: "PUT",
    protocol: "http:",
    hostname: "127.0.0.1",
    port: 9000,
    path: "/bucket/objects/ab/cdef-0123",
    query: {},
    headers: {
      host: "127.0.0.1:9000",
      "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
      "content-length": "32768",
    },
  },
  {
    method: "DELETE",
    protocol: "http:",
    hostname: "127.0.0.1",
    port: 9000,
    path: "/bucket/objects/ab/cdef-0123",
    query: {},
    headers: { host: "127.0.0.1:9000", "x-amz-content-sha256": "UNSIGNED-PAYLOAD" },
  },
  {
    method: "POST",
    protocol: "http:",
    hostname: "127.0.0.1",
    port: 9000,
    path: "/bucket/objects/ab/cdef-0123",
    query: { uploads: "" },
    headers: { host: "127.0.0.1:9000", "x-amz-content-sha256": "UNSIGNED-PAYLOAD" },
  },
  {
    method: "PUT",
    protocol: "http:",
    hostname: "127.0.0.1",
    port: 9000,
    path: "/bucket/objects/ab/cdef-0123",
    query: { uploadId: "Zm9v/YmFy+cXV4=~*'()!", partNumber: "12" },
    headers: {
      host: "127.0.0.1:9000",
      "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
      "content-length": "8388608",
    },
  },
];

async function sdkAuthorization(client: S3Client, req: LeanRequest, at: Date) {
  const signer = signerOf(client) as unknown as {
    sign(r: LeanRequest, o: { signingDate: Date }): Promise<{ headers: Record<string, string> }>;
  };
  return (await signer.sign({ ...req, headers: { ...req.headers } }, { signingDate: at })).headers;
}

describe("the lean SigV4 signer", () => {
  for (const token of [undefined, "session/token+="]) {
    it(`signs as the SDK does${token ? ", with a session token" : ""}`, async () => {
      const client = clientWith(token);
      const sign = headerSigner(client);
      const at = new Date("2026-12-04T18:05:09.123Z");
      for (const req of requests) {
        const ours = (await sign(req, at)).headers;
        const sdk = await sdkAuthorization(client, req, at);
        expect(ours.authorization).toBe(sdk.authorization);
        expect(ours["x-amz-date"]).toBe("20261204T180509Z");
        expect(ours["x-amz-security-token"]).toBe(token);
        expect(req.headers.authorization).toBeUndefined(); // the request given is not changed
      }
    });
  }

  it("derives the signing key again when the day, the region or the credentials change", async () => {
    for (const [client, at] of [
      [clientWith(), new Date("2026-12-04T23:59:59Z")],
      [clientWith(), new Date("2026-12-05T00:00:01Z")],
    ] as const) {
      const sign = headerSigner(client);
      // One signer across both days, too.
      const first = await sign(requests[0]!, at);
      expect(first.headers.authorization).toBe(
        (await sdkAuthorization(client, requests[0]!, at)).authorization,
      );
    }
    const a = clientWith(undefined, "eu-central-1");
    const sign = headerSigner(a);
    const days = [
      new Date("2026-12-04T23:59:59Z"),
      new Date("2026-12-05T00:00:01Z"),
      new Date("2026-12-04T12:00:00Z"),
    ];
    for (const at of days) {
      expect((await sign(requests[1]!, at)).headers.authorization).toBe(
        (await sdkAuthorization(a, requests[1]!, at)).authorization,
      );
    }
    // The same signer, its client's credentials rotated: signed with the new ones.
    let secret = "first-secret";
    const rotating = {
      config: {
        credentials: async () => ({ accessKeyId: "AKIAEXAMPLE", secretAccessKey: secret }),
        region: async () => "eu-central-1",
      },
    } as unknown as S3Client;
    const signRotating = headerSigner(rotating);
    const at = new Date("2026-12-04T12:00:00Z");
    const before = (await signRotating(requests[0]!, at)).headers.authorization;
    secret = "second-secret";
    const after = (await signRotating(requests[0]!, at)).headers.authorization;
    expect(after).not.toBe(before);
    expect(after).toBe((await sdkAuthorization(rotating, requests[0]!, at)).authorization);
  });

  for (const token of [undefined, "session/token+="]) {
    it(`presigns a GET as the SDK does${token ? ", with a session token" : ""}`, async () => {
      const client = clientWith(token);
      const presign = querySigner(client);
      const at = new Date("2026-12-04T18:05:09.123Z");
      const query = {
        "x-id": "GetObject",
        "response-content-disposition": `attachment; filename="a b*(1).pdf"`,
      };
      const req = { method: "GET", host: "127.0.0.1:9000", path: "/bucket/objects/ab/cdef-0123", query };
      const ours = await presign(req, at, 900);
      const sdk = await signerOf(client).presign(
        {
          method: "GET",
          protocol: "http:",
          hostname: "127.0.0.1",
          port: 9000,
          path: req.path,
          query: { ...query },
          headers: { host: req.host, "X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD" },
        },
        { expiresIn: 900, signingDate: at },
      );
      expect(canonicalQuery(ours)).toBe(canonicalQuery(sdk.query as Record<string, string>));
      expect(ours["X-Amz-Security-Token"]).toBe(token);
      expect(req.query).toEqual(query); // the request given is not changed
      await expect(presign(req, at, 604_801)).rejects.toThrow(/at most a week/);
    });
  }
});
