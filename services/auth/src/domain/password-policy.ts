import { invalidArgument } from "@filemesh/kit";

export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 1024;

/**
 * NIST SP 800-63B: length only (8 to 1024 code points, so well over 64), any Unicode, no
 * composition rules, common passwords refused. Counted in code points after NFC.
 */
export function checkPassword(password: string, isCommon: (p: string) => boolean, field = "password"): void {
  const length = [...password.normalize("NFC")].length;
  if (length < PASSWORD_MIN) {
    throw invalidArgument("PASSWORD_TOO_SHORT", `password must be at least ${PASSWORD_MIN} characters`, [
      { field, description: `at least ${PASSWORD_MIN} characters` },
    ]);
  }
  if (length > PASSWORD_MAX) {
    throw invalidArgument("PASSWORD_TOO_LONG", `password must be at most ${PASSWORD_MAX} characters`, [
      { field, description: `at most ${PASSWORD_MAX} characters` },
    ]);
  }
  if (isCommon(password)) {
    throw invalidArgument("PASSWORD_TOO_COMMON", "password is too common; choose another", [
      { field, description: "appears in a list of common passwords" },
    ]);
  }
}
