// Event plumbing: NATS/JetStream connection, stream definitions, the transactional outbox and
// its relay, and idempotent durable consumers. See docs/architecture.md §6.
export { type ConsumedEvent, type ConsumerOptions, type RunningConsumer, runConsumer } from "./consumer.js";
export { applyOnce, consumedEventsTableSql, pruneConsumed } from "./inbox.js";
export { type Listener, type ListenOptions, listenForNotify } from "./listen.js";
export { connectNats, inboxPrefixOf, type NatsHandle, type NatsOptions, parseNatsUrl } from "./nats.js";
export {
  appendEvents,
  checkSchema,
  EVENT_TYPE_HEADER,
  type EventMetaLike,
  eventMetaFromCall,
  makeEvent,
  type NewEventMeta,
  newEventMeta,
  type OutboxEvent,
  outboxChannel,
  outboxTableSql,
  TRACEPARENT_HEADER,
} from "./outbox.js";
export {
  type BackgroundRelay,
  type Relay,
  type RelayOptions,
  startBackgroundRelay,
  startRelay,
} from "./relay.js";
export { type RelayMetrics, relayMetrics } from "./relay-metrics.js";
export { countBacklog, prunePublished } from "./relay-store.js";
export {
  ACL,
  AUTH,
  type EnsureResult,
  ensureStreams,
  FILEMESH_STREAMS,
  FILES,
  relayStreams,
  runStream,
  type StreamDef,
  streamConfig,
  USERS,
} from "./streams.js";
