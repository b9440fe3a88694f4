// Work asked during one turn of the event loop, handed over together: the requests that one
// socket read brings in (a gateway's HTTP/2 connection carries many calls) then share one
// statement or one RPC instead of paying a round trip each. The batch goes once the turn's I/O
// callbacks have run (setImmediate), or at once when the next item would take it past `max`.

/**
 * Returns `add(item)`: items added in one turn reach `flush` together, in order, at most
 * `max` weight at a time (`weight` of an item, 1 by default; an item heavier than `max` goes
 * alone). `flush` must not throw: it owns the items' outcomes.
 */
export function turnBatch<T>(
  flush: (items: T[]) => void,
  max = Number.POSITIVE_INFINITY,
  weight: (item: T) => number = () => 1,
): (item: T) => void {
  let due: T[] = [];
  let size = 0;
  let scheduled = false;
  const take = () => {
    const items = due;
    due = [];
    size = 0;
    return items;
  };
  const onTurnEnd = () => {
    scheduled = false;
    if (due.length > 0) flush(take());
  };
  return (item) => {
    const w = weight(item);
    if (due.length > 0 && size + w > max) flush(take());
    due.push(item);
    size += w;
    if (!scheduled) {
      scheduled = true;
      setImmediate(onTurnEnd);
    }
  };
}
