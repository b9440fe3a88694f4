import { invalidArgument } from "@filemesh/kit";

const LOCAL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}$/;
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** Trims and lower-cases an e-mail address and checks its shape; throws INVALID_EMAIL. */
export function normalizeEmail(raw: string, field = "email"): string {
  const email = raw.normalize("NFC").trim().toLowerCase();
  const bad = (why: string) =>
    invalidArgument("INVALID_EMAIL", `email ${why}`, [{ field, description: why }]);
  if (email.length === 0) throw bad("is required");
  if (email.length > 254) throw bad("is longer than 254 characters");
  const at = email.lastIndexOf("@");
  if (at <= 0 || at !== email.indexOf("@")) throw bad("must look like name@example.com");
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  if (!LOCAL.test(local) || local.startsWith(".") || local.endsWith(".") || local.includes("..")) {
    throw bad("has an invalid name part");
  }
  const labels = domain.split(".");
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l)) || /^\d+$/.test(labels.at(-1) ?? "")) {
    throw bad("has an invalid domain");
  }
  return email;
}
