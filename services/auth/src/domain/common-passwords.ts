import { dictionary } from "@zxcvbn-ts/language-common";

/**
 * Common passwords from @zxcvbn-ts/language-common (the maintained zxcvbn-ts project's
 * frequency list, ~49K entries). Compared case-insensitively.
 */
export function commonPasswordChecker(): (password: string) => boolean {
  const list = (dictionary as Record<string, string[]>)["passwords-common"] ?? [];
  if (list.length < 1000) throw new Error("common password list is missing");
  const set = new Set(list.map((p) => p.toLowerCase()));
  return (password) => set.has(password.normalize("NFC").toLowerCase());
}
