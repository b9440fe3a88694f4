// Share-link passwords: where they come from, and how guesses are throttled. Failures are
// counted per link and client address (a doubling delay past a few free ones: only the guesser
// waits) and per link as a whole (4× the free failures from everyone, then a short, bounded
// delay that spares clients which gave the right password before), so neither one address
// nor many can guess fast, and nobody can lock the holder out for long. A throttled guess is
// refused before any hash and is not counted; a guess is counted before it is hashed, so
// parallel guesses cannot slip in before the first failure lands.
import {
  type CallContext,
  clientAddress,
  metadataString,
  permissionDenied,
  resourceExhausted,
} from "@filemesh/kit";
import {
  claimGuess,
  failGuess,
  type GuessRules,
  guessWaitMs,
  type LinkRow,
  passGuess,
  passwordMatches,
} from "../store/links.js";
import type { FileDeps } from "./deps.js";

const THROTTLED = (waitMs: number) =>
  resourceExhausted("LINK_PASSWORD_THROTTLED", "too many wrong passwords for this link; retry later", waitMs);
export const MAX_PASSWORD = 1024;
/** Counts of password failures are forgotten after an hour without one. */
const GUESS_WINDOW_MS = 3_600_000;

/** The password a holder sent: the header first, then the (discouraged) field. */
export const linkPassword = (ctx: CallContext, field: string): string =>
  metadataString(ctx.metadata, "x-link-password") || field;

export function createPasswordCheck(deps: FileDeps) {
  const { pool, settings } = deps;
  const perClient: GuessRules = {
    free: settings.linkPasswordFreeAttempts,
    baseMs: settings.linkPasswordBackoffBaseMs,
    maxMs: settings.linkPasswordBackoffMaxMs,
    windowMs: GUESS_WINDOW_MS,
  };
  const wholeLink: GuessRules = {
    ...perClient,
    free: 4 * settings.linkPasswordFreeAttempts,
    maxMs: Math.min(settings.linkPasswordLinkBackoffMaxMs, settings.linkPasswordBackoffMaxMs),
  };

  /**
   * Checks a password against the link's hash unless a delay runs for this client (its own,
   * or the whole link's if it has not given the right password before): then it is refused
   * with RetryInfo, without hashing and without counting.
   */
  return async function checkPassword(
    link: LinkRow & { password_hash: string },
    password: string,
    ctx: CallContext,
  ) {
    const client = clientAddress(ctx, settings.trustForwardedFor, settings.trustedProxyHops);
    const waitMs = await guessWaitMs(pool, link.id, client);
    if (waitMs > 0) throw THROTTLED(waitMs);
    if (!(await claimGuess(pool, link.id, client, perClient)))
      throw THROTTLED(Math.max(1, await guessWaitMs(pool, link.id, client)));
    const ok = password.length <= MAX_PASSWORD && (await passwordMatches(password, link.password_hash));
    if (!ok) {
      await failGuess(pool, link.id, wholeLink);
      throw permissionDenied("WRONG_PASSWORD", "wrong password");
    }
    await passGuess(pool, link.id, client);
  };
}
