/** One RPC as declared in the contracts: its binding(s) and its filemesh.options.v1.policy. */
export interface MethodInfo {
  /** Fully qualified service, e.g. "filemesh.auth.v1.AuthService". */
  readonly service: string;
  /** Short service name from the package, e.g. "auth". */
  readonly serviceName: string;
  readonly method: string;
  /** gRPC path, e.g. "/filemesh.auth.v1.AuthService/Login". */
  readonly path: string;
  readonly clientStreaming: boolean;
  readonly serverStreaming: boolean;
  readonly http: readonly { readonly method: string; readonly path: string; readonly body: string }[];
  readonly policy: {
    readonly public: boolean;
    readonly idempotent: boolean;
    readonly internalCallers: readonly string[];
    /** Services that may also call this user-facing method as themselves (no access token). */
    readonly serviceCallers: readonly string[];
    readonly admin: boolean;
    readonly rateClass: string;
    /** Runs for a verified token whose session already ended (Logout's idempotent retry). */
    readonly endedSessionOk: boolean;
  };
}
