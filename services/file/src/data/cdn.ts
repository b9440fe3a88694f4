// CloudFront-style signed download URLs (CDN_* in config.ts): the CDN's base, the object key
// (each path segment URL-encoded) and the response headers a presigned S3 GET would set
// (attachment, content type) as the query S3 reads them from, all under one canned policy:
// RSA-SHA1 over {"Statement":[{"Resource":"<that URL>","Condition":{"DateLessThan":
// {"AWS:EpochTime":<Expires>}}}]}, with Expires, Signature and Key-Pair-Id appended. The CDN
// verifies the signature with the public key and forwards the query to S3 (docs/deploy.md "CDN").
import { getSignedUrl } from "@aws-sdk/cloudfront-signer";
import {
  attachmentDisposition,
  checkKey,
  PRESIGN_MAX_SECONDS,
  type PresignOptions,
} from "@filemesh/kit/blob";
import type { CdnConfig } from "../config.js";

export interface Cdn {
  /** A URL that GETs `key` through the CDN until `expireTime` (lifetime capped like presigns). */
  signGet(key: string, o: PresignOptions, now?: number): { url: string; expireTime: Date };
}

export function createCdn(c: CdnConfig): Cdn {
  // The parsed key, not its PEM: the signer hands it to crypto's sign({ key }), which takes a
  // KeyObject as well (its types say string | Buffer). PEM text would be parsed again for every
  // URL: ≈ 1.2 ms a URL instead of ≈ 0.4 ms (RSA-2048, this machine).
  const privateKey = c.privateKey as unknown as string;
  return {
    signGet(key, o, now = Date.now()) {
      const seconds = Math.min(Math.max(1, Math.floor(o.expiresInSeconds)), PRESIGN_MAX_SECONDS);
      const expires = Math.floor(now / 1000) + seconds;
      const url = getSignedUrl({
        url: cdnResource(c.baseUrl, key, o),
        keyPairId: c.keyPairId,
        privateKey,
        dateLessThan: new Date(expires * 1000),
      });
      return { url, expireTime: new Date(expires * 1000) };
    },
  };
}

/**
 * The URL the policy names (the signed URL without Expires, Signature, Key-Pair-Id). Encoded
 * so that the signer's own normalisation leaves it as it is: what is signed is what is sent.
 */
export function cdnResource(
  baseUrl: string,
  key: string,
  o: Omit<PresignOptions, "expiresInSeconds">,
): string {
  const path = checkKey(key).split("/").map(strict).join("/");
  const query = [`response-content-disposition=${strict(attachmentDisposition(o.fileName ?? "download"))}`];
  if (o.contentType) query.push(`response-content-type=${strict(o.contentType)}`);
  return `${baseUrl}/${path}?${query.join("&")}`;
}

/** RFC 3986 unreserved characters only (encodeURIComponent leaves !'()* as they are). */
const strict = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);
