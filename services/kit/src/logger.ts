import { type Logger, pino } from "pino";

export type { Logger } from "pino";

/** Keys whose values never reach a log line, wherever they appear in the first levels. */
const SECRET_KEYS = [
  "password",
  "currentPassword",
  "newPassword",
  "current_password",
  "new_password",
  "token",
  "accessToken",
  "refreshToken",
  "access_token",
  "refresh_token",
  "authorization",
  "cookie",
  "secret",
  "pepper",
  "privateKey",
];
const REDACT_PATHS = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);

export interface LoggerOptions {
  service: string;
  level?: string;
  /** Destination stream; stdout when absent (tests pass a buffer). */
  destination?: NodeJS.WritableStream;
}

/** JSON logger with the service name on every line and secrets redacted. */
export function createLogger({ service, level = "info", destination }: LoggerOptions): Logger {
  return pino(
    {
      level,
      base: { service },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ sync: false }),
  );
}
