// CDN_* at start-up: all three or none, s3 only, a plain https base, a CloudFront key id and a
// readable unencrypted RSA private key of 2048 bits or more; every problem reported, the key's
// content never.
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "@filemesh/kit";
import { afterAll, describe, expect, it } from "vitest";
import { loadFileConfig } from "./config.js";

const dir = mkdtempSync(join(tmpdir(), "filemesh-cdn-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const rsa = (bits: number) => generateKeyPairSync("rsa", { modulusLength: bits });
const { privateKey, publicKey } = rsa(2048);
const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
const keyFile = file("key.pem", pem);

const S3 = { BLOB_DRIVER: "s3" };
const CDN = {
  CDN_BASE_URL: "https://d111111abcdef8.cloudfront.net/files/",
  CDN_KEY_PAIR_ID: "K2JCJMDEHXQW5F",
  CDN_PRIVATE_KEY_FILE: keyFile,
};

/** The problems loadFileConfig reports for env (none: []). */
function problems(env: Record<string, string>): readonly string[] {
  try {
    loadFileConfig(env);
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    // The key's content is never part of a message.
    expect((err as Error).message).not.toMatch(/BEGIN|PRIVATE KEY|MII/);
    return (err as ConfigError).problems;
  }
}

describe("CDN configuration", () => {
  it("is off without CDN_* (on either driver)", () => {
    expect(loadFileConfig({}).cdn).toBeUndefined();
    expect(loadFileConfig(S3).cdn).toBeUndefined();
  });

  it("with all three on the s3 driver: the base without its trailing slash, the id, the key", () => {
    const { cdn } = loadFileConfig({ ...S3, ...CDN });
    expect(cdn?.baseUrl).toBe("https://d111111abcdef8.cloudfront.net/files");
    expect(cdn?.keyPairId).toBe("K2JCJMDEHXQW5F");
    expect(cdn?.privateKey.equals(privateKey)).toBe(true);
    // The config can be printed: the key is a KeyObject, its PEM is nowhere in it.
    expect(JSON.stringify(cdn)).not.toContain("PRIVATE");
    expect(loadFileConfig({ ...S3, ...CDN, CDN_BASE_URL: "https://cdn.example.com" }).cdn?.baseUrl).toBe(
      "https://cdn.example.com",
    );
  });

  it("refuses a partial configuration, naming what is missing", () => {
    const all = "CDN_BASE_URL, CDN_KEY_PAIR_ID, CDN_PRIVATE_KEY_FILE go together";
    expect(problems({ ...S3, CDN_BASE_URL: CDN.CDN_BASE_URL })).toEqual([
      `${all}: CDN_KEY_PAIR_ID, CDN_PRIVATE_KEY_FILE missing`,
    ]);
    expect(problems({ ...S3, CDN_KEY_PAIR_ID: "K1", CDN_PRIVATE_KEY_FILE: keyFile })).toEqual([
      `${all}: CDN_BASE_URL missing`,
    ]);
    expect(problems({ ...S3, ...CDN, CDN_PRIVATE_KEY_FILE: "" })).toEqual([
      `${all}: CDN_PRIVATE_KEY_FILE missing`,
    ]);
  });

  it("refuses it on the fs driver", () => {
    expect(problems({ ...CDN })).toEqual(["CDN_BASE_URL needs BLOB_DRIVER=s3 (the CDN serves the bucket)"]);
  });

  it("refuses a base that is not a plain https URL", () => {
    expect(problems({ ...S3, ...CDN, CDN_BASE_URL: "cdn.example.com" })).toEqual([
      'CDN_BASE_URL must be a URL (got "cdn.example.com")',
    ]);
    expect(problems({ ...S3, ...CDN, CDN_BASE_URL: "http://cdn.example.com" })).toEqual([
      'CDN_BASE_URL must use https (got "http://cdn.example.com")',
    ]);
    const plain = "CDN_BASE_URL must be a plain https URL, without query, fragment or credentials";
    for (const bad of [
      "https://cdn.example.com/?a=1",
      "https://cdn.example.com/#x",
      "https://user:pw@cdn.example.com",
    ]) {
      expect([bad, problems({ ...S3, ...CDN, CDN_BASE_URL: bad })]).toEqual([bad, [plain]]);
    }
  });

  it("refuses a key id that is not a CloudFront key id", () => {
    expect(problems({ ...S3, ...CDN, CDN_KEY_PAIR_ID: "k1&Signature=x" })).toEqual([
      'CDN_KEY_PAIR_ID must be a CloudFront key id like K2JCJMDEHXQW5F (got "k1&Signature=x")',
    ]);
  });

  it("refuses a key file that cannot be read, or is not an unencrypted RSA private key of 2048+ bits", () => {
    const missing = join(dir, "nope.pem");
    const encrypted = privateKey
      .export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "secret" })
      .toString();
    const cases: [string, string][] = [
      [missing, `CDN_PRIVATE_KEY_FILE ${missing} cannot be read (ENOENT)`],
      [dir, `CDN_PRIVATE_KEY_FILE ${dir} cannot be read (EISDIR)`],
      [file("junk.pem", "not a key"), "is not an unencrypted PEM private key"],
      [
        file("public.pem", publicKey.export({ type: "spki", format: "pem" }).toString()),
        "is not an unencrypted PEM private key",
      ],
      [file("encrypted.pem", encrypted), "is not an unencrypted PEM private key"],
      [
        file(
          "ec.pem",
          generateKeyPairSync("ec", { namedCurve: "P-256" })
            .privateKey.export({ type: "pkcs8", format: "pem" })
            .toString(),
        ),
        "must hold an RSA key of 2048 bits or more (got ec)",
      ],
      [
        file("small.pem", rsa(1024).privateKey.export({ type: "pkcs8", format: "pem" }).toString()),
        "must hold an RSA key of 2048 bits or more (got rsa 1024)",
      ],
    ];
    for (const [path, message] of cases) {
      const got = problems({ ...S3, ...CDN, CDN_PRIVATE_KEY_FILE: path });
      expect(got).toHaveLength(1);
      expect(got[0]).toContain(`CDN_PRIVATE_KEY_FILE ${path}`);
      expect(got[0]).toContain(message);
    }
  });

  it("lists every CDN problem at once", () => {
    expect(
      problems({ CDN_BASE_URL: "https://cdn.example.com?x=1", CDN_PRIVATE_KEY_FILE: join(dir, "nope.pem") }),
    ).toEqual([
      "CDN_BASE_URL, CDN_KEY_PAIR_ID, CDN_PRIVATE_KEY_FILE go together: CDN_KEY_PAIR_ID missing",
      "CDN_BASE_URL needs BLOB_DRIVER=s3 (the CDN serves the bucket)",
      "CDN_BASE_URL must be a plain https URL, without query, fragment or credentials",
      `CDN_PRIVATE_KEY_FILE ${join(dir, "nope.pem")} cannot be read (ENOENT)`,
    ]);
  });
});
