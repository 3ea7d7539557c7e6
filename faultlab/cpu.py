"""CPUs: who runs where, and when a woken thread gets to run.

Without this layer (``Scenario.cpus`` is None, the default) every thread
has a CPU of its own and runs the moment it is woken, after the wake-up
latency ``Costs.wakeup_us``; every preset keeps that. With ``CPUs(...)``:

* ``n`` CPUs and a run queue per CPU; ``affinity`` pins a thread to one CPU
  (``sched_setaffinity``); an unpinned thread is woken on an idle CPU if
  there is one (its previous CPU first), else on its previous CPU
  (select_task_rq_fair / select_idle_sibling, kernel/sched/fair.c);
* a woken thread whose CPU is idle runs after the wake-up latency (the
  model's existing ``wakeup_us`` charge, taken from a measured wake-up to
  an idle CPU where there is one); if its CPU is busy it waits in the run
  queue;
* wake-up preemption: a thread that slept at least ``slice_us`` and is
  woken onto a busy CPU marks the running thread for preemption
  (check_preempt_wakeup_fair -> resched_curr in 6.6+'s EEVDF, where a
  long sleeper's deadline comes before that of a thread that has been
  running; in 2.6.18's O(1) scheduler the sleeper's interactivity bonus
  makes TASK_PREEMPTS_CURR true in try_to_wake_up). The switch happens at
  the running thread's next preemption point: its return to user space
  after a fault or a syscall. The woken thread then keeps the CPU for a
  slice: it is switched out at a preemption point only once it has run
  ``slice_us`` and someone waits (the tick's slice check), or when it
  sleeps. The slice: EEVDF's ``sysctl_sched_base_slice`` (kernel/sched/fair.c:
  0.75 ms in 6.6-6.14, 0.70 ms since 6.15, times 1 + ilog2(ncpus)), which the
  tick enforces (at HZ=250 only every 4 ms); 2.6.18's O(1) scheduler gives a
  nice-0 task DEF_TIMESLICE = 100 ms (kernel/sched.c). The default,
  1.4 ms, is 6.15+'s on two CPUs; a twin sets the slice it measured.

Simplifications (stated, not hidden): the only preemption points are the
returns to user space (no tick preemption inside user time, a think time
runs to its end; no kernel preemption); "slept long" is a threshold
(``slice_us``) instead of EEVDF's lag and deadline arithmetic or O(1)'s
sleep_avg; no load balancing or migration of a runnable thread; switching
in costs the wake-up latency once, whether the CPU was idle or not; an
evictor process and a writer waiting for a VMA's readers
(vma_start_write) never give up their CPU while they wait: an evictor
must have a CPU of its own (``check`` refuses anything else), and a
scenario where a writer waits for a VMA reader on its own CPU would stall.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from .errors import ModelBug
from .schema import at_least, positive, refuse, whole


@dataclass(frozen=True, slots=True)
class CPUs:
    """The machine: ``n`` CPUs, each thread's CPU (``affinity``: pairs of
    thread name and CPU; a thread not named may run on any), the scheduler
    slice, and whether a long sleeper preempts at wake-up."""

    n: int = 2
    affinity: tuple = ()
    slice_us: float = 1400.0     # 0.70 ms x (1 + ilog2(2)): EEVDF, 6.15+, two CPUs
    wakeup_preempt: bool = True

    def check(self, scenario) -> None:
        whole("cpus.n", self.n)
        if not 1 <= self.n <= 256:
            raise refuse("cpus.n", f"must be from 1 to 256, got {self.n!r}")
        positive("cpus.slice_us", self.slice_us)
        if not isinstance(self.wakeup_preempt, bool):
            raise refuse("cpus.wakeup_preempt", f"must be true or false, got {self.wakeup_preempt!r}")
        names = {t.name: t for t in scenario.threads}
        pinned = {}
        for pair in self.affinity:
            if not (isinstance(pair, tuple) and len(pair) == 2):
                raise refuse("cpus.affinity", f"each entry is (thread name, cpu), got {pair!r}")
            name, cpu = pair
            if name not in names:
                raise refuse("cpus.affinity", f"no thread named {name!r}; threads are {', '.join(names)}")
            whole(f"cpus.affinity[{name}]", cpu)
            at_least(f"cpus.affinity[{name}]", cpu, 0, integer=True)
            if cpu >= self.n:
                raise refuse(f"cpus.affinity[{name}]", f"CPU {cpu} does not exist (CPUs 0..{self.n - 1})")
            pinned[name] = cpu
        for t in scenario.threads:
            if not t.shares_mm:
                alone = t.name in pinned and len(pinned) == len(names) and \
                    sum(c == pinned[t.name] for c in pinned.values()) == 1
                if not alone:
                    raise refuse("cpus.affinity", f"thread {t.name!r} ({type(t).__name__}) must be pinned to a "
                                 "CPU of its own, and every thread pinned: it never gives up its CPU "
                                 "while it waits")

    def cpu_of(self, name: str):
        for n, c in self.affinity:
            if n == name:
                return c
        return None


class _CPU:
    __slots__ = ("id", "curr", "rq", "since", "preempt")

    def __init__(self, i):
        self.id = i
        self.curr = None        # the task running (or reserved for a woken task)
        self.rq = deque()       # (task, event) waiting for this CPU
        self.since = 0.0        # when curr got the CPU: its slice runs from here
        self.preempt = None     # a long sleeper that set need_resched on curr


class Sched:
    """The run queues of one run."""

    def __init__(self, env, spec: CPUs, names):
        self.env = env
        self.spec = spec
        self.cpus = [_CPU(i) for i in range(spec.n)]
        self.pinned = {n: c for n, c in spec.affinity}
        self.on = {}                              # task -> CPU it last ran on
        self.waiting = {}                         # task -> event, while it waits in a run queue
        self.slept_at = {}                        # task -> when it blocked
        self.switches = 0
        self.preemptions = 0
        for i, name in enumerate(names):          # where each thread starts
            self.on[name] = self.pinned.get(name, i % spec.n)

    def cpu_of(self, name: str) -> int:
        return self.on[name]

    # -- sleeping and waking --------------------------------------------------
    def block(self, name: str) -> None:
        """The task is about to sleep: give its CPU to the next in the queue."""
        cpu = self.cpus[self.on[name]]
        if cpu.curr != name:
            raise ModelBug(f"sched: {name} blocks on CPU {cpu.id}, which runs {cpu.curr}")
        self.slept_at[name] = self.env.now
        self._next(cpu)

    def wake(self, name: str):
        """The task is runnable: an event that fires when it has a CPU (waking a
        task that is already running or queued changes nothing)."""
        if name in self.waiting:
            return self.waiting[name]
        ev = self.env.event()
        if self.cpus[self.on[name]].curr == name:
            return ev.succeed()
        cpu = self._select(name)
        self.on[name] = cpu.id
        if cpu.curr is None:
            cpu.curr, cpu.since = name, self.env.now
            ev.succeed()
            return ev
        slept = self.env.now - self.slept_at.get(name, self.env.now)
        if self.spec.wakeup_preempt and slept >= self.spec.slice_us and cpu.preempt is None:
            cpu.preempt = name
            cpu.rq.appendleft((name, ev))
        else:
            cpu.rq.append((name, ev))
        self.waiting[name] = ev
        return ev

    def resume(self, name: str):
        """After a wait: None if the task already has its CPU, else the event to
        yield for it (the one it already waits on, if it was woken before)."""
        if self.cpus[self.on[name]].curr == name:
            return None
        return self.waiting.get(name) or self.wake(name)

    def when_running(self, name: str, fn, latency_us: float) -> None:
        """Wake ``name`` and call ``fn`` once it runs (after ``latency_us``): how a
        lock that only wakes a waiter lets the waiter try for itself."""
        def run(_e):
            self.env.timeout(latency_us).callbacks.append(lambda _t: fn())
        self.wake(name).callbacks.append(run)

    # -- preemption points --------------------------------------------------------
    def preempt_point(self, name: str):
        """Return to user space: switch if a long sleeper asked to, or if the slice
        is used up and someone waits. Returns what to ``yield from``."""
        cpu = self.cpus[self.on[name]]
        if not cpu.rq or (cpu.preempt is None and self.env.now - cpu.since < self.spec.slice_us):
            return ()
        return self._switch_out(cpu, name)

    def _switch_out(self, cpu, name):
        self.preemptions += 1
        ev = self.env.event()
        cpu.rq.append((name, ev))
        self.waiting[name] = ev
        self.slept_at.pop(name, None)
        self._next(cpu)
        yield ev

    def _next(self, cpu) -> None:
        cpu.preempt = None
        if cpu.rq:
            name, ev = cpu.rq.popleft()
            del self.waiting[name]
            cpu.curr, cpu.since = name, self.env.now
            self.on[name] = cpu.id
            self.switches += 1
            ev.succeed()
        else:
            cpu.curr = None

    def _select(self, name: str) -> _CPU:
        pin = self.pinned.get(name)
        if pin is not None:
            return self.cpus[pin]
        prev = self.cpus[self.on[name]]
        if prev.curr is None:
            return prev
        for cpu in self.cpus:
            if cpu.curr is None:
                return cpu
        return prev

    def exit(self, name: str) -> None:
        cpu = self.cpus[self.on[name]]
        if cpu.curr == name:
            self._next(cpu)
