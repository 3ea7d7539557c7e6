"""mmap_sem's queueing rules (faultlab/rwsem.py), driven directly in SimPy.

Each test plays a small schedule -- who asks for the lock, when, for which
side, and for how long it holds it -- and compares the log of what happened,
``(time_us, task, event)``, with what the kernel's rules say must happen:

* ``"2.6.18"``: lib/rwsem-spinlock.c and lib/rwsem.c of Linux 2.6.18
  (__down_read, __down_write, __rwsem_do_wake);
* ``"modern"``: kernel/locking/rwsem.c since v5.3 (d3681e269fff handoff and
  phase-fair reader wake-up, 4f23dbc1e657) with reader stealing (1a728dff855a).
"""
from __future__ import annotations

import pytest
import simpy
from hypothesis import given, settings, strategies as st

from faultlab.errors import ModelBug
from faultlab.rwsem import MAX_READERS_WAKEUP, RWSEM_WAIT_TIMEOUT_US, RWSem


def play(rules, plan, wakeup_us=0.0):
    """Run ``plan``, a list of ``(task, arrive_us, "r" | "w", hold_us)``, on one RWSem.

    Logs ``down_read``/``down_write`` when a task asks, ``granted`` when it runs
    again holding the lock, ``up`` when it lets go. Returns (log, sem)."""
    env = simpy.Environment()
    sem = RWSem(env, rules=rules, wakeup_us=wakeup_us)
    log = []

    def task(name, at, kind, hold):
        yield env.timeout(at)
        log.append((env.now, name, "down_write" if kind == "w" else "down_read"))
        yield sem.request(name, write=kind == "w")
        log.append((env.now, name, "granted"))
        yield env.timeout(hold)
        log.append((env.now, name, "up"))
        sem.release(name)

    for name, at, kind, hold in plan:
        env.process(task(name, at, kind, hold))
    env.run()
    return log, sem


def grants(log):
    """{task: time granted}."""
    return {task: t for t, task, what in log if what == "granted"}


# -- 2.6.18: lib/rwsem-spinlock.c ---------------------------------------------------


def test_2618_readers_share_a_free_lock():
    """__down_read: granted at once when no writer holds and nobody waits,
    even while other readers hold it."""
    log, _ = play("2.6.18", [("r1", 0, "r", 10), ("r2", 1, "r", 10)])
    assert log == [(0, "r1", "down_read"), (0, "r1", "granted"),
                   (1, "r2", "down_read"), (1, "r2", "granted"),
                   (10, "r1", "up"), (11, "r2", "up")]


def test_2618_queued_writer_blocks_new_readers():
    """__down_read checks list_empty(&sem->wait_list): a reader arriving while a
    writer waits queues behind it, although only readers hold the lock. This
    is the convoy: r2 waits for r1's whole hold and then for the writer."""
    log, _ = play("2.6.18", [("r1", 0, "r", 10), ("w", 1, "w", 5), ("r2", 2, "r", 1)])
    assert log == [(0, "r1", "down_read"), (0, "r1", "granted"),
                   (1, "w", "down_write"),
                   (2, "r2", "down_read"),
                   (10, "r1", "up"), (10, "w", "granted"),
                   (15, "w", "up"), (15, "r2", "granted"),
                   (16, "r2", "up")]


def test_2618_writer_waits_for_queue_even_when_lock_is_free_of_writers():
    """__down_write: granted at once only if nobody holds it and nobody waits."""
    log, _ = play("2.6.18", [("r1", 0, "r", 10), ("w1", 1, "w", 5), ("w2", 2, "w", 5)])
    assert grants(log) == {"r1": 0, "w1": 10, "w2": 15}


def test_2618_up_write_wakes_the_head_writer_alone():
    """__rwsem_do_wake: if the head waiter is a writer, only it is woken, even
    with readers queued right behind it."""
    log, _ = play("2.6.18", [("w0", 0, "w", 10), ("w1", 1, "w", 5), ("r1", 2, "r", 1), ("r2", 3, "r", 1)])
    assert grants(log) == {"w0": 0, "w1": 10, "r1": 15, "r2": 15}


def test_2618_up_write_wakes_consecutive_readers_up_to_the_first_writer():
    """__rwsem_do_wake grants read locks to the readers at the front of the
    queue and stops at the first writer; r3, behind w2, keeps waiting."""
    plan = [("w0", 0, "w", 10), ("r1", 1, "r", 4), ("r2", 2, "r", 6), ("w2", 3, "w", 5), ("r3", 4, "r", 1)]
    log, _ = play("2.6.18", plan)
    assert grants(log) == {"w0": 0, "r1": 10, "r2": 10, "w2": 16, "r3": 21}


def test_2618_last_up_read_wakes_the_head_writer():
    """Only the *last* up_read hands the lock to the queued writer."""
    log, _ = play("2.6.18", [("r1", 0, "r", 10), ("r2", 1, "r", 20), ("w", 2, "w", 5)])
    assert log == [(0, "r1", "down_read"), (0, "r1", "granted"),
                   (1, "r2", "down_read"), (1, "r2", "granted"),
                   (2, "w", "down_write"),
                   (10, "r1", "up"),
                   (21, "r2", "up"), (21, "w", "granted"),
                   (26, "w", "up")]


def test_2618_strict_fifo_grant_order():
    """The wait list is strict FIFO (list_add_tail); nobody steals, nobody spins:
    locks are granted in exactly the order they were asked for."""
    plan = [("w0", 0, "w", 7), ("r1", 1, "r", 3), ("w1", 2, "w", 2), ("r2", 3, "r", 9),
            ("r3", 4, "r", 1), ("w2", 5, "w", 4), ("r4", 6, "r", 2)]
    log, _ = play("2.6.18", plan)
    asked = [task for _, task, what in log if what.startswith("down")]
    got = [task for _, task, what in log if what == "granted"]
    assert got == asked
    assert grants(log) == {"w0": 0, "r1": 7, "w1": 10, "r2": 12, "r3": 12, "w2": 21, "r4": 25}


# -- releasing what you do not hold ------------------------------------------------


def test_release_of_a_lock_not_held_is_a_model_bug():
    """Unlike SimPy (which ignores it), up_read/up_write by a task that does not
    hold the lock is a bug in the model and raises."""
    env = simpy.Environment()
    sem = RWSem(env, rules="2.6.18")
    with pytest.raises(ModelBug, match="ghost released a lock it does not hold"):
        sem.release("ghost")


def test_double_release_is_a_model_bug():
    """A second up_read by the same task is a model bug, not a no-op."""
    env = simpy.Environment()
    sem = RWSem(env, rules="modern")
    sem.request("t", write=False)
    sem.release("t")
    with pytest.raises(ModelBug, match="t released a lock it does not hold"):
        sem.release("t")


def test_taking_the_lock_twice_is_a_model_bug():
    """rwsems are not recursive: a second down_read by a holder is a model bug
    (in the kernel it deadlocks as soon as a writer queues in between)."""
    env = simpy.Environment()
    sem = RWSem(env, rules="2.6.18")
    sem.request("t", write=False)
    with pytest.raises(ModelBug, match="takes the lock twice"):
        sem.request("t", write=False)


# -- modern: kernel/locking/rwsem.c ------------------------------------------------


def test_modern_reader_steals_a_free_lock_past_a_woken_writer():
    """rwsem_down_read_slowpath (v5.11+): with no writer holding it and no
    handoff set, a reader takes the lock even though a writer waits. The head
    writer was woken at t=100 but runs only wakeup_us later, and finds it taken."""
    plan = [("r0", 0, "r", 100), ("w", 1, "w", 5), ("r1", 105, "r", 95)]
    log, sem = play("modern", plan, wakeup_us=10)
    assert log == [(0, "r0", "down_read"), (0, "r0", "granted"),
                   (1, "w", "down_write"),
                   (100, "r0", "up"),
                   (105, "r1", "down_read"), (105, "r1", "granted"),
                   (200, "r1", "up"),
                   (210, "w", "granted"),
                   (215, "w", "up")]
    assert sem.steals == 1


def test_modern_reader_queues_on_a_reader_owned_lock_with_a_writer_waiting():
    """'To prevent a constant stream of readers from starving a sleeping
    writer', a reader does not steal a reader-owned lock: it queues. So the
    2006 convoy still forms on today's mmap_lock, as it did in 2.6.18."""
    plan = [("r0", 0, "r", 100), ("w", 1, "w", 5), ("r1", 2, "r", 1)]
    modern, sem = play("modern", plan, wakeup_us=10)
    assert grants(modern) == {"r0": 0, "w": 110, "r1": 115}
    assert sem.steals == 0
    old, _ = play("2.6.18", plan)
    assert grants(old) == {"r0": 0, "w": 100, "r1": 105}


def test_modern_head_reader_wakes_readers_past_queued_writers():
    """rwsem_mark_wake (d3681e269fff, v5.3): when the head waiter is a reader,
    every queued reader is woken, even those behind a writer (phase-fair);
    2.6.18 stops at the first writer."""
    plan = [("w0", 0, "w", 10), ("r1", 1, "r", 4), ("w1", 2, "w", 5), ("r2", 3, "r", 6), ("r3", 4, "r", 1)]
    modern, _ = play("modern", plan)
    assert grants(modern) == {"w0": 0, "r1": 10, "r2": 10, "r3": 10, "w1": 16}
    old, _ = play("2.6.18", plan)
    assert grants(old) == {"w0": 0, "r1": 10, "w1": 14, "r2": 19, "r3": 19}


def test_modern_reader_wakeup_stops_at_max_readers_wakeup():
    """At most MAX_READERS_WAKEUP (256) readers are woken at once; the rest
    stay queued behind the writer that is now at the head."""
    n = MAX_READERS_WAKEUP + 10
    plan = [("w0", 0, "w", 10), ("r0", 1, "r", 5), ("w1", 2, "w", 5)]
    plan += [(f"r{i}", 3, "r", 5) for i in range(1, n)]
    log, _ = play("modern", plan)
    g = grants(log)
    at_once = sorted(int(task[1:]) for task, t in g.items() if t == 10 and task.startswith("r"))
    assert at_once == list(range(MAX_READERS_WAKEUP))
    assert g["w1"] == 15
    assert {g[f"r{i}"] for i in range(MAX_READERS_WAKEUP, n)} == {20}


def test_modern_handoff_stops_stealing_after_rwsem_wait_timeout():
    """4f23dbc1e657 (v5.3): once the head waiter has queued for RWSEM_WAIT_TIMEOUT
    (about 4 ms), HANDOFF is set, nobody may steal, and the lock goes to it.

    The writer w queues at t=1 behind r0. Each time a reader lets go, w is
    woken, but a reader arriving during its wake-up steals the free lock:
    r1, r2, r3 steal at 1005, 2005, 3005, while w has waited < 4 ms. r4
    arrives at 4005, after w has waited 4 ms: it queues, and w gets the lock."""
    assert RWSEM_WAIT_TIMEOUT_US == 4000.0
    plan = [("r0", 0, "r", 1000), ("w", 1, "w", 50),
            ("r1", 1005, "r", 995), ("r2", 2005, "r", 995), ("r3", 3005, "r", 995),
            ("r4", 4005, "r", 10)]
    log, sem = play("modern", plan, wakeup_us=10)
    assert grants(log) == {"r0": 0, "r1": 1005, "r2": 2005, "r3": 3005, "w": 4010, "r4": 4060}
    assert sem.steals == 3
    assert (4005, "r4", "granted") not in log


def test_modern_handoff_grants_the_head_waiter_directly():
    """With HANDOFF pending, the releasing task hands the lock straight to the
    head writer (no wake-then-race): r3 lets go at 4002, when w has waited
    4001 us, and w holds it from that instant."""
    plan = [("r0", 0, "r", 1000), ("w", 1, "w", 50),
            ("r1", 1005, "r", 995), ("r2", 2005, "r", 995), ("r3", 3005, "r", 997),
            ("r4", 4005, "r", 10)]
    log, sem = play("modern", plan, wakeup_us=10)
    assert grants(log)["w"] == 4002
    assert grants(log)["r4"] == 4052
    assert sem.handoffs == 1


def test_modern_writer_takes_a_free_lock_with_waiters_unless_handoff():
    """A writer arriving at a free lock takes it (standing in for optimistic
    spinning, 4fc828e24cd9) -- but not while a handoff is pending."""
    steal = [("r0", 0, "r", 100), ("w", 1, "w", 5), ("w2", 102, "w", 50)]
    log, _ = play("modern", steal, wakeup_us=10)
    assert grants(log) == {"r0": 0, "w2": 102, "w": 162}
    # w is woken at 3995, after 3994 us of waiting; w2 finds the lock free at
    # 4003, but w has now waited 4 ms: handoff is pending, w2 queues behind it
    late = [("r0", 0, "r", 3995), ("w", 1, "w", 5), ("w2", 4003, "w", 50)]
    log, _ = play("modern", late, wakeup_us=10)
    assert grants(log) == {"r0": 0, "w": 4005, "w2": 4020}


# -- never a writer together with anyone: random schedules -------------------------

PLANS = st.lists(
    st.tuples(st.integers(0, 60), st.sampled_from("rw"), st.integers(1, 25)),
    min_size=1, max_size=12)


def check_exclusion(log, writers):
    """From the log: no writer's [granted, up) overlaps anyone else's."""
    held = {}
    for t, task, what in log:
        if what == "granted":
            held[task] = [t, None]
        elif what == "up":
            held[task][1] = t
    for w in writers:
        a0, a1 = held[w]
        for other, (b0, b1) in held.items():
            if other != w:
                assert a1 <= b0 or b1 <= a0, f"{w} held [{a0},{a1}) while {other} held [{b0},{b1})"


@settings(max_examples=150, deadline=None)
@given(plan=PLANS, rules=st.sampled_from(["2.6.18", "modern"]), wakeup=st.sampled_from([0.0, 5.0]))
def test_random_schedules_never_share_a_writer_and_never_lose_a_waiter(plan, rules, wakeup):
    """Whatever the arrivals: a writer never holds the lock with anyone, every
    request is granted in the end (no lost wake-up), and under 2.6.18 the
    grant order is the request order."""
    named = [(f"{kind}{i}", at, kind, hold) for i, (at, kind, hold) in enumerate(plan)]
    log, sem = play(rules, named, wakeup_us=wakeup)
    assert not sem.holders and not sem.put_queue
    assert sorted(task for _, task, what in log if what == "up") == sorted(n for n, *_ in named)
    check_exclusion(log, [n for n, _, kind, _ in named if kind == "w"])
    if rules == "2.6.18":
        asked = [task for _, task, what in log if what.startswith("down")]
        assert [task for _, task, what in log if what == "granted"] == asked


@settings(max_examples=100, deadline=None)
@given(plan=PLANS)
def test_2618_immediate_grant_rule_on_random_schedules(plan):
    """__down_read / __down_write fast paths, checked at every arrival: a reader
    is granted at once iff no writer holds and nobody waits; a writer iff
    nobody holds and nobody waits."""
    env = simpy.Environment()
    sem = RWSem(env, rules="2.6.18")
    seen = []

    def task(name, at, kind, hold):
        yield env.timeout(at)
        free_of_writers, nobody = not sem.writer_holds, not sem.holders
        empty = not sem.put_queue
        req = sem.request(name, write=kind == "w")
        expect = (nobody if kind == "w" else free_of_writers) and empty
        seen.append((name, req.triggered, expect))
        yield req
        yield env.timeout(hold)
        sem.release(name)

    for i, (at, kind, hold) in enumerate(plan):
        env.process(task(f"{kind}{i}", at, kind, hold))
    env.run()
    assert [(n, got) for n, got, _ in seen] == [(n, want) for n, _, want in seen]


# -- the rule sets are classes on SimPy's hooks -------------------------------------


def test_each_rule_set_is_a_class_and_arrivals_go_through_simpys_do_put():
    """RWSem(env, rules=...) builds the rule set's class; both override SimPy's
    _do_put, and every down_* of a schedule passes through it (the modern rules
    included), once on arrival at least."""
    from faultlab.rwsem import RULES, RwsemModern, Rwsem2618
    env = simpy.Environment()
    assert type(RWSem(env, rules="2.6.18")) is Rwsem2618
    assert type(RWSem(env, rules="modern")) is RwsemModern
    assert set(RULES) == {"2.6.18", "modern"}
    for cls in RULES.values():
        assert "_do_put" in vars(cls) and "rwsem_wake" in vars(cls)

    for cls in RULES.values():
        seen = []

        class Counting(cls):
            def _do_put(self, req):
                seen.append(req.task)
                return super()._do_put(req)

        env = simpy.Environment()
        sem = Counting(env, wakeup_us=1.0)

        def task(name, at, write):
            yield env.timeout(at)
            yield sem.request(name, write)
            yield env.timeout(3)
            sem.release(name)

        for i, (at, w) in enumerate([(0, False), (1, True), (2, False), (2, True)]):
            env.process(task(f"t{i}", at, w))
        env.run()
        assert {"t0", "t1", "t2", "t3"} <= set(seen), cls


# -- the wake-up itself, driven through unlock() as the fault path does -------------


@pytest.mark.parametrize("rules", ["2.6.18", "modern"])
def test_one_up_write_grants_the_whole_batch_of_queued_readers(rules):
    """Waking the readers wakes all of them, not only the first: after one
    unlock() of the writer every queued reader holds the lock."""
    env = simpy.Environment()
    sem = RWSem(env, rules=rules)
    assert sem.trylock("w", write=True)
    reqs = [sem.request(f"r{i}", write=False) for i in range(5)]
    assert not any(r.triggered for r in reqs) and len(sem.put_queue) == 5
    sem.unlock("w")
    assert all(r.triggered for r in reqs)
    assert sorted(sem.holders) == [f"r{i}" for i in range(5)] and not sem.put_queue


def test_2618_up_write_batch_stops_at_the_first_queued_writer():
    """... and under 2.6.18, the batch ends at the first writer in the queue."""
    env = simpy.Environment()
    sem = RWSem(env, rules="2.6.18")
    assert sem.trylock("w", write=True)
    for name, write in [("r0", False), ("r1", False), ("w1", True), ("r2", False)]:
        sem.request(name, write)
    sem.unlock("w")
    assert sorted(sem.holders) == ["r0", "r1"]
    assert [r.task for r in sem.put_queue] == ["w1", "r2"]


@pytest.mark.parametrize("rules", ["2.6.18", "modern"])
def test_the_fault_paths_lock_calls_wake_and_charge_the_wake_up(rules):
    """mm.down_read/down_write/up_read/up_write, as the fault path and the
    syscalls call them: the trylock, the queue, unlock()'s wake-up, and the
    wake-up latency the woken task pays. A writer holds 0-100 while a reader
    queues: the reader is back at 100 + wakeup_us. A reader holds 200-300
    while a writer queues: 2.6.18 grants the writer at up_read, modern only
    wakes it and it takes the lock when it runs; either way it is back at
    300 + wakeup_us."""
    from faultlab import mm as mmmod
    from faultlab.record import Recorder

    class T:
        def __init__(self, name):
            self.name = name

    env = simpy.Environment()
    rec = Recorder(env=env)
    mm = mmmod.MM(env, rec, rules, 10.0, 1 << 10)
    w, r = T("w"), T("r")

    def writer_first():
        yield from mmmod.down_write(mm, w)
        yield env.timeout(100)
        mmmod.up_write(mm, w)

    def reader_then():
        yield env.timeout(1)
        yield from mmmod.down_read(mm, r)
        yield env.timeout(1)
        mmmod.up_read(mm, r)

    def reader_first():
        yield env.timeout(200)
        yield from mmmod.down_read(mm, r)
        yield env.timeout(100)
        mmmod.up_read(mm, r)

    def writer_then():
        yield env.timeout(201)
        yield from mmmod.down_write(mm, w)
        mmmod.up_write(mm, w)

    for p in (writer_first, reader_then, reader_first, writer_then):
        env.process(p())
    env.run()
    got = [(t, task) for t, task, event, _ in rec.events if event == "acquire_returned"]
    assert got == [(0, "w"), (110.0, "r"), (200, "r"), (310.0, "w")]
    assert not mm.mmap_sem.holders and not mm.mmap_sem.put_queue
