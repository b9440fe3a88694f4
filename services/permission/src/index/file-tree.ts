// Files and folders as linked nodes: each node points at its parent node and holds the grants
// made on it, so walking up to the root is pointer chasing, not a map look-up per level.
// A node exists while it has a parent, a grant or a child; then it is dropped.

export interface Grant {
  rank: number;
  /** Epoch ms; 0 = never. */
  expireAt: number;
}

export interface FileNode {
  readonly ref: string;
  parent: FileNode | undefined;
  /** Subject → grant; undefined when there is none (most nodes). */
  grants: Map<string, Grant> | undefined;
  children: number;
}

export interface FileTree {
  get(ref: string): FileNode | undefined;
  setParent(child: string, parent: string): void;
  /** Removes the edge only if `parent` is the current parent. */
  removeParent(child: string, parent: string): void;
  /** Sets the subject's grant; returns true when the subject had none on this node. */
  setGrant(ref: string, subject: string, grant: Grant): boolean;
  /** Removes the subject's grant if it has this rank; returns whether it did. */
  removeGrant(ref: string, subject: string, rank: number): boolean;
  nodes(): IterableIterator<FileNode>;
  readonly parents: number;
}

export function createFileTree(): FileTree {
  const nodes = new Map<string, FileNode>();
  let parents = 0;
  const node = (ref: string): FileNode => {
    let n = nodes.get(ref);
    if (!n) {
      n = { ref, parent: undefined, grants: undefined, children: 0 };
      nodes.set(ref, n);
    }
    return n;
  };
  const release = (n: FileNode) => {
    if (!n.parent && !n.grants && n.children === 0) nodes.delete(n.ref);
  };
  const detach = (n: FileNode) => {
    const p = n.parent;
    if (!p) return;
    n.parent = undefined;
    parents--;
    p.children--;
    release(p);
  };
  return {
    get: (ref) => nodes.get(ref),
    setParent(child, parent) {
      const c = node(child);
      if (c.parent?.ref === parent) return;
      detach(c);
      const p = node(parent);
      c.parent = p;
      p.children++;
      parents++;
    },
    removeParent(child, parent) {
      const c = nodes.get(child);
      if (!c || c.parent?.ref !== parent) return;
      detach(c);
      release(c);
    },
    setGrant(ref, subject, grant) {
      const n = node(ref);
      n.grants ??= new Map();
      const fresh = !n.grants.has(subject);
      n.grants.set(subject, grant);
      return fresh;
    },
    removeGrant(ref, subject, rank) {
      const n = nodes.get(ref);
      if (!n?.grants || n.grants.get(subject)?.rank !== rank) return false;
      n.grants.delete(subject);
      if (n.grants.size === 0) {
        n.grants = undefined;
        release(n);
      }
      return true;
    },
    nodes: () => nodes.values(),
    get parents() {
      return parents;
    },
  };
}
