"""mmap_sem: a reader/writer semaphore with the kernel's queueing rules.

Think of a reading room with one door keeper. Readers may sit together;
a writer needs the room to itself. The keeper keeps one queue, in arrival
order, and the rules of *who may skip the queue* and *whom to let in when
someone leaves* are what this module is about.

Two sets of rules, chosen with ``Scenario.rwsem``:

``"2.6.18"`` -- lib/rwsem-spinlock.c and lib/rwsem.c in Linux 2.6.18
    (both behave alike; see __down_read, __down_write, __rwsem_do_wake):

    * down_read is granted at once only if no writer holds the lock *and
      nobody is queued*. So a queued writer blocks every new reader.
    * down_write is granted at once only if nobody holds it and nobody waits.
    * the queue is strict FIFO; nobody spins, nobody steals.
    * up_write wakes the writer at the head alone, or every consecutive
      reader at the head up to the first queued writer.
    * the last up_read wakes the writer at the head.
    * a woken waiter is granted the lock by the waker, before it runs.

``"modern"`` -- kernel/locking/rwsem.c since v5.3 (d3681e269fff, 4f23dbc1e657)
    with reader stealing from v5.11 (1a728dff855a):

    * a reader takes a free lock even with waiters queued ("steals"), unless
      a handoff is pending; it still queues when the lock is held by
      readers and others wait, so the 2006 convoy still forms.
    * a writer takes a free lock unless a handoff is pending (this stands
      in for optimistic spinning: the model does not spin, it only lets a
      writer that arrives at a free lock have it).
    * when the head waiter is a reader, up to 256 queued readers are woken
      and granted, even past queued writers.
    * when the head waiter is a writer it is woken but not granted: it
      takes the lock when it runs, ``wakeup_us`` later, if nobody stole it.
    * a waiter that has queued for RWSEM_WAIT_TIMEOUT (about 4 ms) sets
      HANDOFF: no more stealing, the lock goes to it next. (Simplified: the
      model treats HANDOFF as set the moment the head has waited that long;
      the kernel sets it when the woken waiter fails to take the lock, or
      in rwsem_mark_wake for readers.)

Built on SimPy's resource contract: ``request`` is a Put event,
``release`` a Get event. Each rule set is a class (``Rwsem2618``,
``RwsemModern``; ``RWSem(env, rules=...)`` picks one) that overrides
SimPy's ``_do_put`` -- what a ``down_read``/``down_write`` gets when it
arrives -- and the wake hook ``rwsem_wake`` -- what an ``up_read``/``up_write``
that leaves waiters does. Unlike SimPy, releasing a lock you do not hold
raises: that would be a bug in the model. The fault path tries ``trylock``
first, as do_page_fault does with down_read_trylock, and releases with
``unlock``, which does what a Get event would do without allocating one.
"""
from __future__ import annotations

from simpy.resources.base import BaseResource, Get, Put

from .errors import ModelBug

MAX_READERS_WAKEUP = 256          # kernel/locking/rwsem.c
RWSEM_WAIT_TIMEOUT_US = 4000.0    # DIV_ROUND_UP(HZ, 250) jiffies, about 4 ms


class Request(Put):
    """A task asking for the lock: ``down_read`` or ``down_write``."""

    def __init__(self, sem: "RWSem", task: str, write: bool):
        self.task = task
        self.write = write
        self.queued_at = sem._env.now
        self.arriving = True        # being looked at on arrival (fast path / steal)
        self.waited = False         # had to sleep: it pays a wake-up before it runs
        self.running = False        # took the lock itself while running (no wake-up to pay)
        super().__init__(sem)
        self.arriving = False


class Release(Get):
    """A task letting the lock go: ``up_read`` or ``up_write``."""

    def __init__(self, sem: "RWSem", task: str):
        self.task = task
        super().__init__(sem)


class RWSem(BaseResource):
    """What both rule sets share: the holders, the request/release events, the
    checks that catch a model bug. ``RWSem(env, rules=...)`` builds the class
    of those rules (as ``pathlib.Path`` picks its flavour); a rule set is a
    subclass that overrides SimPy's ``_do_put`` (what a ``down_*`` gets) and
    the wake hook ``rwsem_wake`` (what an ``up_*`` that leaves waiters does)."""

    rules = ""

    def __new__(cls, env, rules: str = "2.6.18", **kw):
        if cls is RWSem:
            cls = RULES[rules]
        return super().__new__(cls)

    def __init__(self, env, rules: str = "", name: str = "mmap_sem", wakeup_us: float = 0.0):
        super().__init__(env, capacity=float("inf"))
        self.name = name
        self.wakeup_us = wakeup_us
        self.holders: dict[str, bool] = {}   # task -> holds for write?
        self.max_queue = 0
        self.steals = 0
        self.handoffs = 0
        self.sched = None                    # the CPU layer, if any: a woken writer runs when it has a CPU

    # -- the API the fault path uses ------------------------------------
    def request(self, task: str, write: bool) -> Request:
        return Request(self, task, write)

    def release(self, task: str) -> Release:
        return Release(self, task)

    def trylock(self, task: str, write: bool) -> bool:
        """down_read_trylock / down_write_trylock: take the lock now if a new
        arrival would be granted at once, else return False without queueing."""
        ok = self._may_take(write)
        if ok:
            if task in self.holders:
                raise ModelBug(f"{self.name}: {task} takes the lock twice")
            self.holders[task] = write
            self.steals += bool(self.put_queue)
        return ok

    def unlock(self, task: str) -> None:
        """up_read / up_write without an event: release, then wake waiters."""
        if task not in self.holders:
            raise ModelBug(f"{self.name}: {task} released a lock it does not hold "
                           f"(holders: {sorted(self.holders)})")
        del self.holders[task]
        if self.put_queue:
            self.rwsem_wake()

    @property
    def writer_holds(self) -> bool:
        return True in self.holders.values()

    # -- what a rule set defines ------------------------------------------
    def _may_take(self, write: bool) -> bool:
        """The trylock test: may a new arrival take the lock right now?"""
        raise NotImplementedError

    def rwsem_wake(self) -> None:
        """An up_read/up_write left the lock with waiters: wake (or grant) them."""
        raise NotImplementedError

    # -- SimPy hooks ----------------------------------------------------
    def _do_get(self, rel: Release):
        self.unlock(rel.task)                             # wakes waiters now, as up_read/up_write do
        rel.succeed()
        return True

    def _trigger_put(self, get_event):
        super()._trigger_put(get_event)
        self.max_queue = max(self.max_queue, len(self.put_queue))

    def _grant(self, req: Request) -> None:
        if (req.write and self.holders) or self.writer_holds:
            raise ModelBug(f"{self.name}: {req.task} granted {'write' if req.write else 'read'} "
                           f"while held by {self.holders}")
        if req.task in self.holders:
            raise ModelBug(f"{self.name}: {req.task} takes the lock twice")
        self.holders[req.task] = req.write
        req.waited = not req.arriving
        if req.waited and self.sched is not None:
            self.sched.wake(req.task)                     # try_to_wake_up, by the waker, now
        req.succeed()


class Rwsem2618(RWSem):
    """lib/rwsem-spinlock.c and lib/rwsem.c, Linux 2.6.18 (see the module docstring)."""

    rules = "2.6.18"

    def _may_take(self, write):
        return not self.put_queue and (not self.holders if write else not self.writer_holds)

    def _do_put(self, req: Request):
        """__down_read/__down_write on arrival and __rwsem_do_wake on release alike:
        grant the head if it may go; True means 'look at the next one too'."""
        if req.write:
            if self.holders:
                return False
            self._grant(req)
            return False                                  # a writer goes in alone
        if self.writer_holds:
            return False
        self._grant(req)
        return True                                       # consecutive readers follow

    def rwsem_wake(self):
        """__rwsem_do_wake: the FIFO scan from the head, granting as it goes."""
        self._trigger_put(None)


class RwsemModern(RWSem):
    """kernel/locking/rwsem.c (see the module docstring)."""

    rules = "modern"

    def __init__(self, env, rules="", name="mmap_sem", wakeup_us=0.0):
        super().__init__(env, rules, name, wakeup_us)
        self._writer_waking = None           # the head writer, woken, not yet running

    def _handoff(self) -> bool:
        """A waiter has queued for RWSEM_WAIT_TIMEOUT: the lock must go to the head next."""
        q = self.put_queue
        return bool(q) and not q[0].arriving and self._env.now - q[0].queued_at >= RWSEM_WAIT_TIMEOUT_US

    def _may_take(self, write):
        if write:
            return not self.holders and not self._handoff()
        return not self.writer_holds and (not self.put_queue or
                                          (not self.holders and not self._handoff()))

    def _do_put(self, req: Request):
        """down_read/down_write on arrival: the fast path or a steal; a queued
        waiter is left to rwsem_wake. True means 'look at the next one too'."""
        if not req.arriving:
            return True
        q = self.put_queue
        alone = len(q) == 1
        if req.write:
            ok = not self.holders and (alone or not self._handoff())
        elif alone:
            ok = not self.writer_holds                    # fast path: no writer, no waiters
        else:
            # slow path: steal only a free lock with no handoff pending; a
            # reader-owned lock with others waiting makes the reader queue
            ok = not self.holders and not self._handoff()
        if ok:
            self.steals += not alone
            self._grant(req)
        return False

    def _trigger_put(self, get_event):
        BaseResource._trigger_put(self, get_event)        # the arrival, through _do_put
        self.rwsem_wake()
        self.max_queue = max(self.max_queue, len(self.put_queue))

    def rwsem_wake(self):
        q = self.put_queue
        if not q or self.writer_holds:
            return
        head = q[0]
        if head.arriving:
            return
        if head.write:
            if self.holders or self._writer_waking is head:
                return
            if self._handoff():
                self.handoffs += 1
                q.pop(0)
                self._grant(head)
                return
            self._writer_waking = head
            if self.sched is not None:
                self.sched.when_running(head.task, lambda w=head: self._writer_runs(w), self.wakeup_us)
                return
            self._env.timeout(self.wakeup_us).callbacks.append(lambda _e, w=head: self._writer_runs(w))
            return
        woken = [r for r in q if not r.write][:MAX_READERS_WAKEUP]
        for r in woken:
            q.remove(r)
            self._grant(r)

    def _writer_runs(self, w: Request):
        """The woken head writer runs and tries to take the lock."""
        self._writer_waking = None
        if w.triggered or w not in self.put_queue:
            return
        if not self.holders:
            self.put_queue.remove(w)
            self._grant(w)
            w.running = True                              # it already paid its wake-up
        else:
            if self.sched is not None:
                self.sched.block(w.task)                  # back to sleep: its CPU goes to the next
            self.rwsem_wake()                             # stolen; try again when it can


RULES = {cls.rules: cls for cls in (Rwsem2618, RwsemModern)}
