import type { Greenlet } from '@greenhub/core';

/** One greenlet's membership of one group: a node of the group's list and of the greenlet's chain. */
interface Membership {
  readonly members: GroupMembers;
  readonly greenlet: Greenlet<unknown>;
  prev: Membership | undefined;
  next: Membership | undefined;
  /** The greenlet's next membership (of another group). */
  sibling: Membership | undefined;
  /** The group's `kill()` has started killing it. */
  dying: boolean;
}

/** Core keeps the head of a greenlet's memberships for us (see `Greenlet._membership`). */
type Holder = { _membership: Membership | undefined };

function holder(g: Greenlet<unknown>): Holder {
  return g as unknown as Holder;
}

/**
 * A group's members in the order they were added: a list linked through nodes
 * that each greenlet points to, instead of a `Set`. With many short-lived
 * members (a greenlet per datagram or per `map()` item) a Set's churn made V8
 * promote dead greenlets and all they held out of the young generation, which
 * tripled the time of each scavenge; membership tests walk the greenlet's own
 * memberships (usually one).
 */
export class GroupMembers {
  #head: Membership | undefined;
  #tail: Membership | undefined;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  has(g: Greenlet<unknown>): boolean {
    return this.#find(g) !== undefined;
  }

  /** Add `g` at the end; false if it is a member already. */
  add(g: Greenlet<unknown>): boolean {
    if (this.#find(g) !== undefined) return false;
    const h = holder(g);
    const m: Membership = {
      members: this,
      greenlet: g,
      prev: this.#tail,
      next: undefined,
      sibling: h._membership,
      dying: false,
    };
    h._membership = m;
    if (this.#tail === undefined) this.#head = m;
    else this.#tail.next = m;
    this.#tail = m;
    this.#size++;
    return true;
  }

  /** Remove `g`; false if it was not a member. */
  delete(g: Greenlet<unknown>): boolean {
    const h = holder(g);
    let before: Membership | undefined;
    let m = h._membership;
    while (m !== undefined && m.members !== this) {
      before = m;
      m = m.sibling;
    }
    if (m === undefined) return false;
    if (before === undefined) h._membership = m.sibling;
    else before.sibling = m.sibling;
    if (m.prev === undefined) this.#head = m.next;
    else m.prev.next = m.next;
    if (m.next === undefined) this.#tail = m.prev;
    else m.next.prev = m.prev;
    m.prev = m.next = m.sibling = undefined;
    this.#size--;
    return true;
  }

  /** Mark `g` as being killed by the group; false if it is not a member or was marked before. */
  markDying(g: Greenlet<unknown>): boolean {
    const m = this.#find(g);
    if (m === undefined || m.dying) return false;
    m.dying = true;
    return true;
  }

  /** The members now, in the order they were added (a copy: the group may change meanwhile). */
  toArray(): Greenlet<unknown>[] {
    const out: Greenlet<unknown>[] = [];
    for (let m = this.#head; m !== undefined; m = m.next) out.push(m.greenlet);
    return out;
  }

  #find(g: Greenlet<unknown>): Membership | undefined {
    let m = holder(g)._membership;
    while (m !== undefined && m.members !== this) m = m.sibling;
    return m;
  }
}
