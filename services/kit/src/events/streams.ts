import {
  DiscardPolicy,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { runName, runSubject } from "../run-prefix.js";

/** A stream as data: what `ensureStreams` creates or converges to. */
export interface StreamDef {
  name: string;
  subjects: string[];
  description?: string;
  /** Dedupe window for `Nats-Msg-Id`; must exceed the longest expected relay retry. */
  duplicateWindowMs: number;
  /** How long events are kept (limits retention); 0 = forever. */
  maxAgeMs: number;
  /** Size cap in bytes; -1 = unlimited. */
  maxBytes: number;
  replicas: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

function domainStream(name: string, domain: string, description: string): StreamDef {
  return {
    name,
    subjects: [`filemesh.${domain}.>`],
    description,
    duplicateWindowMs: 2 * 60 * 1000,
    maxAgeMs: 30 * DAY_MS,
    maxBytes: -1,
    replicas: 1,
  };
}

export const AUTH = domainStream("AUTH", "auth", "filemesh auth events");
export const USERS = domainStream("USERS", "users", "filemesh user and group events");
export const FILES = domainStream("FILES", "files", "filemesh file events");
export const ACL = domainStream("ACL", "acl", "filemesh permission events");
export const FILEMESH_STREAMS: readonly StreamDef[] = [AUTH, USERS, FILES, ACL];

/**
 * The stream each service's outbox publishes to. Its relay ensures only that one: with NATS
 * users (k8s/values/nats.yaml) a service may create or update its own stream and no other.
 */
const STREAM_OF: Record<string, StreamDef> = { auth: AUTH, user: USERS, permission: ACL, file: FILES };

/** The streams a relay named `name` ensures: its own, or every domain stream for other names. */
export const relayStreams = (name: string): readonly StreamDef[] => {
  const own = STREAM_OF[name];
  return own ? [own] : FILEMESH_STREAMS;
};

/** A stream definition as a run with RUN_PREFIX `prefix` creates it (kit run-prefix.ts). */
export const runStream = (prefix: string, def: StreamDef): StreamDef =>
  prefix
    ? { ...def, name: runName(prefix, def.name), subjects: def.subjects.map((s) => runSubject(prefix, s)) }
    : def;

/** The JetStream config for a definition: file storage, limits retention, discard old. */
export function streamConfig(def: StreamDef): Partial<StreamConfig> & { name: string } {
  return {
    name: def.name,
    subjects: [...def.subjects],
    description: def.description ?? "",
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    duplicate_window: nanos(def.duplicateWindowMs),
    max_age: nanos(def.maxAgeMs),
    max_bytes: def.maxBytes,
    num_replicas: def.replicas,
  };
}

/** Fields ensureStreams owns; anything else on the server (e.g. set by an operator) is left alone. */
function differs(want: Partial<StreamConfig>, have: StreamConfig): string[] {
  const keys = [
    "description",
    "storage",
    "retention",
    "discard",
    "duplicate_window",
    "max_age",
    "max_bytes",
    "num_replicas",
  ] as const;
  const changed: string[] = keys.filter((k) => (want[k] ?? "") !== (have[k] ?? ""));
  const a = [...(want.subjects ?? [])].sort().join(" ");
  const b = [...(have.subjects ?? [])].sort().join(" ");
  if (a !== b) changed.push("subjects");
  return changed;
}

export interface EnsureResult {
  name: string;
  action: "created" | "updated" | "unchanged";
  changed: string[];
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; code?: number };
  return e?.name === "StreamNotFoundError" || e?.code === 10059;
}

/**
 * Creates missing streams and updates drifted ones; calling it again changes nothing. Throws if
 * a field that cannot change in place (e.g. storage) differs, naming the stream. With a run
 * prefix the streams are the run's own (`<prefix>_AUTH` on `<prefix>.filemesh.auth.>`).
 */
export async function ensureStreams(
  jsm: JetStreamManager,
  plainDefs: readonly StreamDef[],
  runPrefix = "",
): Promise<EnsureResult[]> {
  const results: EnsureResult[] = [];
  for (const def of plainDefs.map((d) => runStream(runPrefix, d))) {
    const want = streamConfig(def);
    let have: StreamConfig | undefined;
    try {
      have = (await jsm.streams.info(def.name)).config;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (!have) {
      await jsm.streams.add(want);
      results.push({ name: def.name, action: "created", changed: [] });
      continue;
    }
    const changed = differs(want, have);
    if (changed.length === 0) {
      results.push({ name: def.name, action: "unchanged", changed });
      continue;
    }
    try {
      await jsm.streams.update(def.name, { ...have, ...want });
    } catch (err) {
      throw new Error(`stream ${def.name}: cannot update ${changed.join(", ")}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    results.push({ name: def.name, action: "updated", changed });
  }
  return results;
}
