// Verification keys from the auth service's JWKS, cached. An unknown `kid` triggers a refetch
// (at most once per `minRefetchMs`, so garbage tokens cannot hammer the auth service); keys
// are also refreshed every `maxAgeMs` so removed keys stop verifying.
import { createPublicKey, type JsonWebKey, type KeyObject } from "node:crypto";

export interface JwkLike {
  kty: string;
  kid: string;
  alg: string;
  use: string;
  n: string;
  e: string;
}

export interface KeySource {
  /** The key for `kid`, or undefined when the JWKS has none (after a permitted refetch). */
  get(kid: string): Promise<KeyObject | undefined>;
}

export function createKeySource(
  fetchJwks: () => Promise<JwkLike[]>,
  { minRefetchMs = 5_000, maxAgeMs = 300_000, now = () => Date.now() } = {},
): KeySource {
  let keys = new Map<string, KeyObject>();
  let fetchedAt = Number.NEGATIVE_INFINITY;
  let inflight: Promise<void> | undefined;

  const refresh = () => {
    inflight ??= (async () => {
      try {
        const next = new Map<string, KeyObject>();
        for (const k of await fetchJwks()) {
          // Only RSA signing keys for RS256 are accepted; anything else in the set is ignored.
          if (k.kty !== "RSA" || (k.alg && k.alg !== "RS256") || (k.use && k.use !== "sig") || !k.kid)
            continue;
          next.set(
            k.kid,
            createPublicKey({ key: { kty: "RSA", n: k.n, e: k.e } as JsonWebKey, format: "jwk" }),
          );
        }
        keys = next;
        fetchedAt = now();
      } finally {
        inflight = undefined;
      }
    })();
    return inflight;
  };

  return {
    async get(kid) {
      const age = now() - fetchedAt;
      if (age > maxAgeMs || (!keys.has(kid) && age > minRefetchMs)) {
        try {
          await refresh();
        } catch {
          // Auth service unreachable: keep the keys we have (fail closed for unknown ones).
        }
      }
      return keys.get(kid);
    },
  };
}
