// Access tokens: RS256 JWTs (RSA verify is several times cheaper than ECDSA P-256 verify, and
// every service verifies every call; signing happens once per login). Keys come from a
// directory of PEM files: the last by name signs, every key is published in the JWKS so
// tokens signed before a rotation keep verifying until they expire.
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { authTypes } from "@filemesh/contracts";
import jwt from "jsonwebtoken";

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  jwk: authTypes.Jwk;
}

export interface KeyRing {
  current: SigningKey;
  all: SigningKey[];
}

/** RFC 7638 thumbprint of an RSA public key: the kid. */
function thumbprint(n: string, e: string): string {
  return createHash("sha256")
    .update(JSON.stringify({ e, kty: "RSA", n }))
    .digest("base64url");
}

export function keyFromPem(pem: string): SigningKey {
  const privateKey = createPrivateKey(pem);
  if (privateKey.asymmetricKeyType !== "rsa") throw new Error("signing keys must be RSA (RS256)");
  const pub = createPublicKey(privateKey).export({ format: "jwk" }) as { n: string; e: string };
  const kid = thumbprint(pub.n, pub.e);
  return {
    kid,
    privateKey,
    jwk: { kty: "RSA", kid, use: "sig", alg: "RS256", n: pub.n, e: pub.e, crv: "", x: "", y: "" },
  };
}

export function loadKeyRing(dir: string): KeyRing {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".pem"))
    .sort();
  if (files.length === 0) throw new Error(`no *.pem signing keys in ${dir}`);
  const all = files.map((f) => keyFromPem(readFileSync(join(dir, f), "utf8")));
  return { current: all[all.length - 1]!, all };
}

export interface AccessClaims {
  sub: string;
  sid: string;
  admin?: boolean;
}

export interface TokenSettings {
  issuer: string;
  audience: string;
  ttlMs: number;
}

export function signAccessToken(ring: KeyRing, s: TokenSettings, claims: AccessClaims): string {
  return jwt.sign(
    { sid: claims.sid, typ: "access", ...(claims.admin ? { adm: true } : {}) },
    ring.current.privateKey,
    {
      algorithm: "RS256",
      keyid: ring.current.kid,
      issuer: s.issuer,
      audience: s.audience,
      subject: claims.sub,
      expiresIn: Math.floor(s.ttlMs / 1000),
      header: { alg: "RS256", typ: "at+jwt", kid: ring.current.kid },
    },
  );
}
