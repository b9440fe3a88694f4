import { Metadata } from "@grpc/grpc-js";

/** Headers the gRPC protocol or the HTTP/2 transport owns; a handler cannot send them. */
const RESERVED = new Set([
  "content-type",
  "content-length",
  "content-encoding",
  "te",
  "trailer",
  "transfer-encoding",
  "connection",
  "keep-alive",
  "upgrade",
  "host",
  "user-agent",
]);
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

export interface ResponseHeader {
  set(name: string, value: string): void;
  /** Sends what was set (once; later calls do nothing). */
  send(): void;
}

/** Throws unless a handler may send `key` (lower case) with `value` as a response header. */
export function checkHeader(key: string, value: string): void {
  if (RESERVED.has(key) || key.startsWith("grpc-") || key.startsWith(":") || key.endsWith("-bin")) {
    throw new Error(`response header ${key} is reserved`);
  }
  if (!PRINTABLE_ASCII.test(value)) throw new Error(`response header ${key} is not printable ASCII`);
}

/**
 * The response headers (gRPC initial metadata) of one call: collected by `set`, sent once
 * by `send` through `sendMetadata` (the grpc-js call's).
 */
export function responseHeader(sendMetadata: (md: Metadata) => void): ResponseHeader {
  const md = new Metadata();
  let sent = false;
  return {
    set(name, value) {
      const key = name.toLowerCase();
      if (sent) throw new Error(`response header ${key} set after the headers were sent`);
      checkHeader(key, value);
      md.set(key, value); // grpc-js refuses names outside [0-9a-z_.-]
    },
    send() {
      if (sent) return;
      sent = true;
      sendMetadata(md);
    },
  };
}
