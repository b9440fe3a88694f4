// turnBatch: what one turn of the event loop asks goes together, in order, within `max`.
import { describe, expect, it } from "vitest";
import { turnBatch } from "./turn-batch.js";

const nextTurn = () => new Promise((r) => setImmediate(r));

describe("turnBatch", () => {
  it("hands one turn's items over together, in order, and the next turn's apart", async () => {
    const got: number[][] = [];
    const add = turnBatch<number>((items) => got.push(items));
    add(1);
    add(2);
    add(3);
    expect(got).toEqual([]);
    await nextTurn();
    add(4);
    await nextTurn();
    await nextTurn();
    expect(got).toEqual([[1, 2, 3], [4]]);
  });

  it("goes at once when the next item would pass max; an item heavier than max goes alone", async () => {
    const got: string[][] = [];
    const add = turnBatch<string>(
      (items) => got.push(items),
      4,
      (s) => s.length,
    );
    add("ab");
    add("cd");
    add("e");
    expect(got).toEqual([["ab", "cd"]]);
    add("fghijk");
    add("l");
    await nextTurn();
    expect(got).toEqual([["ab", "cd"], ["e"], ["fghijk"], ["l"]]);
  });
});
