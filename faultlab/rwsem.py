"""mmap_sem: a reader/writer semaphore with the kernel's queueing rules.

Think of a reading room with one door keeper. Readers may sit together;
a writer needs the room to itself. The keeper keeps one queue, in arrival
order, and the rules of *who may skip the queue* and *whom to let in when
someone leaves* are what this module is about.

Two sets of rules, one class each, chosen with ``Scenario.rwsem`` (by
default the rules of the policy's era):

``"2.6.18"`` -- ``Rwsem2618``: lib/rwsem-spinlock.c and lib/rwsem.c in Linux
    2.6.18 (both behave alike; see __down_read, __down_write, __rwsem_do_wake):

    * down_read is granted at once only if no writer holds the lock *and
      nobody is queued*. So a queued writer blocks every new reader.
    * down_write is granted at once only if nobody holds it and nobody waits.
    * the queue is strict FIFO; nobody spins, nobody steals.
    * up_write wakes the writer at the head alone, or every consecutive
      reader at the head up to the first queued writer.
    * the last up_read wakes the writer at the head.
    * a woken waiter is granted the lock by the waker, before it runs.

``"modern"`` -- ``RwsemModern``: kernel/locking/rwsem.c as in 6.x (the
    structure of v5.3's rework, d3681e269fff and 4f23dbc1e657, with reader
    lock stealing from v5.11, 1a728dff855a; the text read is named below).
    The lock word holds WRITER_LOCKED, WAITERS (someone is queued) and
    HANDOFF; each rule names the function it comes from:

    1. Reader fast path (rwsem_read_trylock): granted when the word has none
       of WRITER_LOCKED, WAITERS, HANDOFF. down_read_trylock is this test alone.
    2. Reader slow path (rwsem_down_read_slowpath): if other readers hold the
       lock (reader-owned, rcnt > 1) it queues, so that a steady stream of
       readers cannot starve a sleeping waiter -- and the 2006 convoy still
       forms. Otherwise it *steals* the lock past the queue when neither
       WRITER_LOCKED nor HANDOFF is set, and, if others wait, wakes the
       readers at the head (rwsem_mark_wake with RWSEM_WAKE_READ_OWNED).
       Otherwise it queues, then rwsem_cond_wake_waiter: if no writer holds
       the lock it calls rwsem_mark_wake itself, for the readers at the head
       while readers hold it, for whoever is at the head if nobody does
       (clearing NONSPINNABLE). A queueing writer that is not first does the same.
    3. Writer fast path (rwsem_write_trylock): granted when the word is zero.
    4. Writer lock stealing (rwsem_down_write_slowpath ->
       rwsem_optimistic_spin -> rwsem_try_write_lock_unqueued, and the
       rwsem_try_write_lock a writer makes as it queues): a writer that
       finds the lock free takes it, waiters or not, unless HANDOFF is set.
    5. Optimistic spinning (rwsem_optimistic_spin, CONFIG_RWSEM_SPIN_ON_OWNER):
       a writer that finds the lock held does not queue at first; it spins
       -- unseen by readers, who still take the fast path -- and takes the
       lock the moment it is free (ahead of every waiter) unless HANDOFF is
       set. On a writer owner it spins until the owner lets go; on readers
       for rwsem_rspin_threshold (10 + readers/2 us, at most 25 us), after
       which it marks the lock NONSPINNABLE (no writer spins until a writer
       takes the lock or the last reader leaves with waiters queued,
       clear_nonspinnable) and queues.
    6. Waking (rwsem_mark_wake, called by up_write, by the last up_read, and
       by the slow paths above): a writer at the head is only *woken*
       (wake_q_add), never granted: it takes the lock itself when it runs,
       ``wakeup_us`` later (rwsem_try_write_lock), if nobody stole it in
       between. A reader at the head gets up to MAX_READERS_WAKEUP (256)
       queued readers granted at once, even those behind queued writers
       ("phase-fair") -- but only if no writer took the lock first; a reader
       granted at wake holds the lock from that instant, before it runs.
    7. Writer-set HANDOFF (rwsem_try_write_lock): a queued writer that runs,
       fails to take the lock and has waited past its timeout sets HANDOFF
       and marks the first waiter (first->handoff_set: itself, when it is
       at the head); from then on no reader or writer may steal, a waiter
       other than the first yields, and the lock goes to the first when it
       next runs. A writer whose handoff_set is true spins on a running
       writer owner (rwsem_spin_on_owner in rwsem_down_write_slowpath) and
       retries at once when it lets go; on a reader owner it sleeps.
    8. Reader-head HANDOFF (rwsem_mark_wake): when rwsem_mark_wake finds a
       writer holding the lock and the reader at the head has waited past
       its timeout, it sets HANDOFF, so that the next release grants the
       readers; granting them clears it.
    9. The timeout: ``waiter->timeout = jiffies + RWSEM_WAIT_TIMEOUT`` when
       the waiter queues, with RWSEM_WAIT_TIMEOUT = DIV_ROUND_UP(HZ, 250)
       jiffies, and ``time_after(jiffies, timeout)``: with HZ=250 (the
       default; ``Scenario.hz``) one 4 ms tick, so a waiter has waited between 4 and
       8 ms, depending on the tick's phase, before it may force a handoff.
       Jiffies count from the start of the run.

    Simplifications: a spinning writer costs no CPU and always sees the lock
    the instant it is let go, before the waker's rwsem_mark_wake (the
    kernel's race, which the spinner usually wins); a writer owner counts as
    running (need_resched and owner_on_cpu are not modelled); the OSQ is a
    FIFO of spinners; RT tasks, signals, READFAIL and downgrade_write are
    not modelled. With the CPU layer (``Scenario.cpus``, cpu.py) a woken
    writer tries the lock only once it has a CPU (Sched.when_running), goes
    back to sleep and gives its CPU up when it fails (Sched.block), but
    keeps it while it spins on a writer owner with handoff_set (that owner
    is running: a modern writer takes the lock only while running); a
    writer spinning on arrival is treated as asleep (its CPU may run
    another thread for the few microseconds of the spin).
    Source read: kernel/locking/rwsem.c in a 6.x text that has
    rwsem_cond_wake_waiter and first->handoff_set (6.1 and later; the
    functions named above); the earlier text at L4STeam/linux a1394e2111bb
    (5.15-5.19: a first waiter inherits HANDOFF, the read slow path wakes
    the queue itself) and torvalds/linux at 0f9368b5bf6d (v5.8 era) show
    what changed. The torvalds/linux copies stored for reading here are of
    the v5.3 and v5.8 era.

Built on SimPy's resource contract: ``request`` is a Put event,
``release`` a Get event. Each rule set is a class that overrides SimPy's
``_do_put`` -- what a ``down_read``/``down_write`` gets when it arrives --
and the wake hook ``up`` -- what an ``up_read``/``up_write`` wakes.
``RWSem(env, rules=...)`` builds the class of those rules. Unlike SimPy,
releasing a lock you do not hold raises: that would be a bug in the model.
The fault path tries ``trylock`` first, as do_page_fault does with
down_read_trylock, and releases with ``unlock`` (up_read/up_write), which
does what a Get event would do without allocating one.
"""
from __future__ import annotations

from simpy.resources.base import BaseResource, Get, Put

from .errors import ModelBug

MAX_READERS_WAKEUP = 256          # kernel/locking/rwsem.c
HZ = 250                          # the default tick rate (CONFIG_HZ_250)

# rwsem_mark_wake's wake types (enum rwsem_wake_type)
WAKE_ANY, WAKE_READERS, WAKE_READ_OWNED = "ANY", "READERS", "READ_OWNED"


def rwsem_wait_timeout(hz: int) -> int:
    """RWSEM_WAIT_TIMEOUT in jiffies: DIV_ROUND_UP(HZ, 250)."""
    return -(-hz // 250)


def rspin_threshold_us(readers: int) -> float:
    """rwsem_rspin_threshold: how long a writer spins on readers, (10 + readers/2) us, at most 25 us."""
    return (20 + min(readers, 30)) / 2


class Request(Put):
    """A task asking for the lock: ``down_read`` or ``down_write``."""

    def __init__(self, sem: "RWSem", task: str, write: bool):
        self.task = task
        self.write = write
        self.queued_at = sem._env.now
        self.timeout = 0            # modern: jiffies + RWSEM_WAIT_TIMEOUT, set when it queues
        self.handoff_set = False    # modern: HANDOFF was set for this waiter (waiter->handoff_set)
        self.spin_until = None      # modern: when a spin on readers gives up
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
    of those rules (as ``pathlib.Path`` picks its flavour)."""

    rules = ""

    def __new__(cls, env, rules: str = "2.6.18", **kw):
        if cls is RWSem:
            cls = RULES[rules]
        return super().__new__(cls)

    def __init__(self, env, rules: str = "", name: str = "mmap_sem", wakeup_us: float = 0.0,
                 hz: int = HZ):
        super().__init__(env, capacity=float("inf"))
        self.name = name
        self.wakeup_us = wakeup_us
        self.hz = hz
        self.holders: dict[str, bool] = {}   # task -> holds for write?
        self.max_queue = 0
        self.steals = 0                      # locks taken past queued waiters
        self.handoffs = 0                    # times HANDOFF was set
        self.sched = None                    # the CPU layer (cpu.py), if any: who has a CPU to run on

    # -- the API the fault path uses ------------------------------------
    def request(self, task: str, write: bool) -> Request:
        return Request(self, task, write)

    def release(self, task: str) -> Release:
        return Release(self, task)

    def trylock(self, task: str, write: bool) -> bool:
        """down_read_trylock / down_write_trylock: take the lock now if the fast
        path allows it, else return False without queueing."""
        ok = self._may_take(write)
        if ok:
            if task in self.holders:
                raise ModelBug(f"{self.name}: {task} takes the lock twice")
            self.holders[task] = write
        return ok

    def unlock(self, task: str) -> None:
        """up_read / up_write without an event: release, then wake what the rules wake."""
        if task not in self.holders:
            raise ModelBug(f"{self.name}: {task} released a lock it does not hold "
                           f"(holders: {sorted(self.holders)})")
        self.up(self.holders.pop(task))

    @property
    def writer_holds(self) -> bool:
        return True in self.holders.values()

    # -- what a rule set defines ------------------------------------------
    def _may_take(self, write: bool) -> bool:
        """The trylock test: may a new arrival take the lock right now?"""
        raise NotImplementedError

    def up(self, write: bool) -> None:
        """The wake hook: an up_read (write False) or up_write has let go."""
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

    def up(self, write):
        """__rwsem_do_wake: the FIFO scan from the head, granting as it goes
        (after an up_read with readers still in, the head writer may not go)."""
        if self.put_queue:
            self._trigger_put(None)


class RwsemModern(RWSem):
    """kernel/locking/rwsem.c, 6.x (see the module docstring, rules 1-9).

    ``put_queue`` is the wait list; spinning writers are not on it (they
    set no WAITERS bit), they wait in ``spinners``."""

    rules = "modern"

    def __init__(self, env, rules="", name="mmap_sem", wakeup_us=0.0, hz=HZ, spin_on_owner=True):
        super().__init__(env, rules, name, wakeup_us, hz)
        self.spin_on_owner = spin_on_owner   # CONFIG_RWSEM_SPIN_ON_OWNER
        self.handoff = False                 # RWSEM_FLAG_HANDOFF
        self.nonspinnable = False            # RWSEM_NONSPINNABLE in sem->owner
        self.spinners: list[Request] = []    # writers in rwsem_optimistic_spin (the OSQ)
        self._woken: set = set()             # head writers woken, not yet running (wake_q)
        self._handoff_spinner = None         # a waiter with handoff_set spinning on a writer owner
        self._pending: list = []             # rwsem_mark_wake calls an arrival asked for

    # -- time ---------------------------------------------------------------
    def jiffies(self) -> int:
        return int(self._env.now * self.hz // 1_000_000)

    def _queue(self, req: Request) -> None:
        """rwsem_add_waiter: the waiter's timeout starts now."""
        req.timeout = self.jiffies() + rwsem_wait_timeout(self.hz)

    def _timed_out(self, req: Request) -> bool:
        return self.jiffies() > req.timeout              # time_after(jiffies, waiter->timeout)

    # -- arrivals: down_read / down_write ----------------------------------------
    def _may_take(self, write):
        """rwsem_read_trylock / rwsem_write_trylock: the fast paths only."""
        if self.put_queue or self.handoff:
            return False
        return not self.holders if write else not self.writer_holds

    def trylock(self, task, write):
        ok = super().trylock(task, write)
        if ok and write:
            self.nonspinnable = False                     # rwsem_set_owner
        return ok

    def _do_put(self, req: Request):
        """An arrival's down_read/down_write (fast path, steal, spin or queue);
        a queued waiter is left alone (only rwsem_mark_wake and its own
        rwsem_try_write_lock move it). True means 'look at the next one too'."""
        if not req.arriving:
            return True
        if req.write:
            self._down_write(req)
        else:
            self._down_read(req)
        return False

    def _down_read(self, req):
        others_wait = len(self.put_queue) > 1
        if not self.writer_holds and not others_wait and not self.handoff:
            self._grant(req)                              # 1. fast path
            return
        readers_hold = bool(self.holders) and not self.writer_holds
        if not readers_hold and not self.writer_holds and not self.handoff:
            self.steals += others_wait                    # 2. reader lock stealing
            self._grant(req)
            if others_wait:
                self._pending.append(WAKE_READ_OWNED)
            return
        self._queue(req)                                  # 2. queue: (rcnt > 1, or a writer, or HANDOFF)
        self._cond_wake()

    def _down_write(self, req):
        others_wait = len(self.put_queue) > 1
        if not self.holders and not self.handoff:
            self.steals += others_wait                    # 3. fast path / 4. writer lock stealing
            self._take_write(req)
            return
        if self.spin_on_owner and not self.nonspinnable:
            self.put_queue.remove(req)                    # 5. spin, unseen by the wait list
            self.spinners.append(req)
            if self.holders and not self.writer_holds:
                self._arm_spin(req)
            return
        self._queue_writer(req)

    def _queue_writer(self, req):
        """rwsem_down_write_slowpath from ``waiter.task = current``: queue; if
        others were queued first and no writer holds it, wake the head (readers
        only, if readers hold it). Its first rwsem_try_write_lock cannot succeed
        here: the lock is held, or HANDOFF is set by the head."""
        self._queue(req)
        if self.put_queue[0] is not req:
            self._cond_wake()

    def _cond_wake(self):
        """rwsem_cond_wake_waiter, after a slow path queued its waiter: no wake-up
        while a writer holds the lock; the readers at the head while readers
        hold it; else whoever is at the head (and NONSPINNABLE is cleared)."""
        if self.writer_holds:
            return
        if self.holders:
            self._pending.append(WAKE_READERS)
        else:
            self.nonspinnable = False                     # clear_nonspinnable
            self._pending.append(WAKE_ANY)

    def _take_write(self, req):
        self._grant(req)
        self.nonspinnable = False                         # rwsem_set_owner overwrites the owner flags

    def _trigger_put(self, get_event):
        BaseResource._trigger_put(self, get_event)        # the arrival, through _do_put
        while self._pending and self.put_queue:
            self.rwsem_mark_wake(self._pending.pop(0))
        self._pending.clear()
        self.max_queue = max(self.max_queue, len(self.put_queue))

    # -- spinning ------------------------------------------------------------------
    def _arm_spin(self, req):
        """The lock is reader-owned: spin for rwsem_rspin_threshold, then give up."""
        req.spin_until = until = self._env.now + rspin_threshold_us(len(self.holders))
        self._env.timeout(until - self._env.now).callbacks.append(
            lambda _e, r=req, t=until: self._spin_timeout(r, t))

    def _spin_timeout(self, req, until):
        if req not in self.spinners or req.spin_until != until:
            return
        req.spin_until = None
        if not self.holders or self.writer_holds:
            return                                        # no longer reader-owned: spin on
        self.nonspinnable = True                          # rwsem_set_nonspinnable
        self.spinners.remove(req)
        self.put_queue.append(req)
        self._queue_writer(req)
        self._trigger_put(None)                           # its rwsem_mark_wake, if it asked for one

    def _spinner_takes(self):
        """The lock has just been let go: a writer watching the owner takes it
        before the waker gets to rwsem_mark_wake -- the HANDOFF holder first,
        else the first spinner if HANDOFF is clear."""
        w = self._handoff_spinner
        if w is not None:
            self._handoff_spinner = None
            if self._try_write_lock(w):
                w.running = True
                return
        if self.spinners and not self.handoff:
            req = self.spinners.pop(0)
            self.steals += bool(self.put_queue)
            self._take_write(req)
            req.running = True                            # it never slept

    # -- releases: up_read / up_write ----------------------------------------------
    def up(self, write):
        """__up_read wakes only when the last reader leaves and waiters are
        queued (clearing NONSPINNABLE); __up_write whenever waiters are queued."""
        if self.holders:
            return
        if not write and self.put_queue:
            self.nonspinnable = False                     # clear_nonspinnable
        self._spinner_takes()
        if self.put_queue:
            self.rwsem_mark_wake(WAKE_ANY)                # rwsem_wake

    def rwsem_mark_wake(self, wake_type):
        """Rule 6 (and 8): wake the head writer, or grant the queued readers."""
        q = self.put_queue
        head = q[0]
        if head.write:
            if wake_type == WAKE_ANY and head not in self._woken:
                self._woken.add(head)                     # wake_q_add: it runs wakeup_us later
                if self.sched is not None:                # ... once it has a CPU
                    self.sched.when_running(head.task, lambda w=head: self._writer_runs(w), self.wakeup_us)
                else:
                    self._env.timeout(self.wakeup_us).callbacks.append(lambda _e, w=head: self._writer_runs(w))
            return
        if wake_type != WAKE_READ_OWNED and self.writer_holds:
            if self._timed_out(head):                     # 8. a writer took it first, too often
                if not self.handoff:
                    self.handoff = True
                    self.handoffs += 1
                head.handoff_set = True
            return
        woken = [r for r in q if not r.write][:MAX_READERS_WAKEUP]
        for r in woken:
            q.remove(r)
            self._grant(r)                                # granted now, before it runs
        self.handoff = False                              # woken readers clear HANDOFF
        for s in self.spinners:
            if s.spin_until is None:
                self._arm_spin(s)                         # now reader-owned: the spin has a limit

    def _writer_runs(self, w: Request):
        """The woken writer runs: rwsem_try_write_lock, else spin or sleep again."""
        self._woken.discard(w)
        if w.triggered or w not in self.put_queue:
            return
        if self._try_write_lock(w):
            w.running = True                              # it already paid its wake-up
        elif w.handoff_set and self.writer_holds:
            self._handoff_spinner = w                     # rwsem_spin_on_owner, then trylock_again (on its CPU)
        elif self.sched is not None:
            self.sched.block(w.task)                      # schedule(): back to sleep, its CPU goes to the next

    def _try_write_lock(self, w: Request) -> bool:
        """Rule 7 (rwsem_try_write_lock): a waiter yields to a HANDOFF only if
        the first waiter set it; a held lock is a failure, after which a waiter
        past its timeout sets HANDOFF, marking the *first* waiter as the one
        that set it (first->handoff_set); a free lock is taken, clearing HANDOFF."""
        first = self.put_queue[0]
        if self.handoff and first.handoff_set and w is not first:
            return False
        if self.holders:
            if self.handoff or not self._timed_out(w):
                return False
            self.handoff = True
            self.handoffs += 1
            first.handoff_set = True
            return False
        self.handoff = False
        self.put_queue.remove(w)
        self._take_write(w)
        return True


RULES = {cls.rules: cls for cls in (Rwsem2618, RwsemModern)}
