// Display names of files and folders. They are shown, never used as storage paths (object
// keys are server-generated), but they still end up in download headers, zip archives and
// other people's file systems, so anything that could mislead or break them is refused.
import { invalidArgument } from "@filemesh/kit";

export const MAX_NAME_BYTES = 255;

// C0/C1 controls, DEL, bidi overrides and isolates, zero-width and BOM characters.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/u;
const SEPARATORS = /[/\\]/;
const RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;

/** Why a name is refused, or undefined when it is fine. */
export function nameProblem(name: string): string | undefined {
  if (name.length === 0) return "must not be empty";
  if (Buffer.byteLength(name, "utf8") > MAX_NAME_BYTES) return `must be at most ${MAX_NAME_BYTES} bytes`;
  if (FORBIDDEN.test(name)) return "must not contain control or invisible formatting characters";
  if (SEPARATORS.test(name)) return "must not contain / or \\";
  if (name === "." || name === "..") return "must not be . or ..";
  if (/[. ]$/.test(name)) return "must not end with a dot or a space";
  if (RESERVED.test(name)) return "is a reserved device name";
  if (/[:*?"<>|]/.test(name)) return 'must not contain any of : * ? " < > |';
  return undefined;
}

/** The stored form of a display name (NFC, surrounding white space trimmed) or INVALID_ARGUMENT. */
export function cleanName(raw: string, field = "name"): string {
  const name = raw.normalize("NFC").trim();
  const problem = nameProblem(name);
  if (problem) {
    throw invalidArgument("INVALID_NAME", `the name ${problem}`, [{ field, description: problem }]);
  }
  return name;
}
