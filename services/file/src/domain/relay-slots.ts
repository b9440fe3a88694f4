// How many parts this process relays at once, per user and in all (slots.ts). A slot is held
// for the whole transfer of a relayed part (UploadPart) or byte stream (WriteUpload); a call
// beyond either bound is refused at once with RESOURCE_EXHAUSTED + RetryInfo rather than
// queued, so a few parallel PUTs of one user can neither exhaust the pod's memory nor its S3
// connections, and other users keep their share. Per process on purpose: memory is per pod.
import { resourceExhausted } from "@filemesh/kit";
import { createSlots, type Slots } from "./slots.js";

export const RELAY_RETRY_MS = 1000;

export function createRelaySlots(o: { perUser: number; perProcess: number }): Slots {
  return createSlots({
    ...o,
    userFull: () =>
      resourceExhausted(
        "TOO_MANY_PARTS_IN_FLIGHT",
        `at most ${o.perUser} parts of one user are relayed at once; retry when one is done`,
        RELAY_RETRY_MS,
      ),
    processFull: () =>
      resourceExhausted("RELAY_BUSY", "too many parts are being relayed; retry shortly", RELAY_RETRY_MS),
  });
}
