// HTTP Range (RFC 9110 §14) over a ticket's byte window, for the data endpoint. One range
// only: a list of ranges (or anything long or odd) is ignored and the whole window served,
// which the RFC allows — a hostile header costs one length check and one regex.

export interface Span {
  start: number;
  /** Inclusive. */
  end: number;
}

const SINGLE = /^bytes=(\d{0,15})-(\d{0,15})$/;

/**
 * The span of `header` within a window of `size` bytes: undefined = serve the whole window
 * (no header, a multi-range or malformed one); "unsatisfiable" = 416.
 */
export function rangeSpan(header: string | undefined, size: number): Span | "unsatisfiable" | undefined {
  if (!header || header.length > 64) return undefined;
  const m = SINGLE.exec(header.trim());
  if (!m) return undefined;
  const [, a, b] = m;
  if (a === "" && b === "") return undefined;
  if (a === "") {
    // Suffix: the last b bytes.
    const n = Number(b);
    if (n === 0) return "unsatisfiable";
    return size === 0 ? "unsatisfiable" : { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  if (start >= size) return "unsatisfiable";
  const end = b === "" ? size - 1 : Math.min(Number(b), size - 1);
  if (end < start) return undefined; // last < first: invalid, ignored (RFC 9110 §14.1.1)
  return { start, end };
}

/** True when If-None-Match names `etag` (or is "*"): weak comparison, as for GET. */
export function noneMatch(header: string | undefined, etag: string): boolean {
  if (!header || header.length > 4096) return false;
  if (header.trim() === "*") return true;
  const bare = etag.replace(/^W\//, "");
  return header.split(",").some((t) => t.trim().replace(/^W\//, "") === bare);
}
