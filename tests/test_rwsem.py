"""mmap_sem's queueing rules (faultlab/rwsem.py), driven directly in SimPy.

Each test plays a small schedule -- who asks for the lock, when, for which
side, and for how long it holds it -- and compares the log of what happened,
``(time_us, task, event)``, with what the kernel's rules say must happen:

* ``"2.6.18"``: lib/rwsem-spinlock.c and lib/rwsem.c of Linux 2.6.18
  (__down_read, __down_write, __rwsem_do_wake);
* ``"modern"``: kernel/locking/rwsem.c as in 6.x (the rules 1-9 of
  faultlab/rwsem.py's docstring, each test names the function it checks).
"""
from __future__ import annotations

import pytest
import simpy
from hypothesis import given, settings, strategies as st

from faultlab.errors import ModelBug
from faultlab.rwsem import MAX_READERS_WAKEUP, RWSem, rspin_threshold_us, rwsem_wait_timeout


def play(rules, plan, wakeup_us=0.0, probes=(), **kw):
    """Run ``plan``, a list of ``(task, arrive_us, "r" | "w", hold_us)``, on one RWSem.

    Logs ``down_read``/``down_write`` when a task asks, ``granted`` when the
    request is granted (the task resumes holding the lock), ``up`` when it lets
    go; at each time in ``probes`` logs ``(t, "holders", sorted holders)``.
    Returns (log, sem)."""
    env = simpy.Environment()
    sem = RWSem(env, rules=rules, wakeup_us=wakeup_us, **kw)
    log = []

    def task(name, at, kind, hold):
        yield env.timeout(at)
        log.append((env.now, name, "down_write" if kind == "w" else "down_read"))
        yield sem.request(name, write=kind == "w")
        log.append((env.now, name, "granted"))
        yield env.timeout(hold)
        log.append((env.now, name, "up"))
        sem.release(name)

    def probe(at):
        yield env.timeout(at)
        log.append((env.now, "holders", sorted(sem.holders)))

    for name, at, kind, hold in plan:
        env.process(task(name, at, kind, hold))
    for at in probes:
        env.process(probe(at))
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


# -- modern: kernel/locking/rwsem.c (6.x), one test per rule ----------------------------
# With HZ=250 a jiffy is 4 ms and RWSEM_WAIT_TIMEOUT one jiffy: a waiter queued
# in [0, 4 ms) has timeout 1 and may force a handoff from 8 ms on (time_after).


def test_modern_rule1_reader_fast_path_needs_no_writer_no_waiter_no_handoff():
    """rwsem_read_trylock: readers share a lock nobody waits for."""
    log, _ = play("modern", [("r1", 0, "r", 10), ("r2", 1, "r", 10)])
    assert log == [(0, "r1", "down_read"), (0, "r1", "granted"),
                   (1, "r2", "down_read"), (1, "r2", "granted"),
                   (10, "r1", "up"), (11, "r2", "up")]


def test_modern_rule6_a_woken_writer_is_not_granted_until_it_runs():
    """rwsem_mark_wake only wake_q_adds the head writer: when r0 lets go at
    100 nobody holds the lock until w runs, wakeup_us later, and takes it in
    rwsem_try_write_lock. (w spun on the readers for 10.5 us, then queued.)"""
    plan = [("r0", 0, "r", 100), ("w", 1, "w", 5)]
    log, _ = play("modern", plan, wakeup_us=10, probes=(105,))
    assert log == [(0, "r0", "down_read"), (0, "r0", "granted"),
                   (1, "w", "down_write"),
                   (100, "r0", "up"),
                   (105, "holders", []),
                   (110, "w", "granted"),
                   (115, "w", "up")]


def test_modern_rule2_reader_steals_a_free_lock_past_a_woken_writer():
    """rwsem_down_read_slowpath (v5.11+): with no writer holding it and no
    HANDOFF, a reader takes the lock although a writer waits. The head writer
    was woken at t=100 but runs only at 110, and finds it taken; it sleeps
    again until r1's up_read wakes it."""
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


def test_modern_rule2_reader_queues_on_a_reader_owned_lock_with_a_writer_waiting():
    """rwsem_down_read_slowpath: 'to prevent a constant stream of readers from
    starving a sleeping waiter', a reader does not steal a lock other readers
    own (rcnt > 1): it queues. So the 2006 convoy still forms on mmap_lock."""
    plan = [("r0", 0, "r", 100), ("w", 1, "w", 5), ("r1", 20, "r", 1)]
    modern, sem = play("modern", plan, wakeup_us=10)
    assert grants(modern) == {"r0": 0, "w": 110, "r1": 115}
    assert sem.steals == 0
    old, _ = play("2.6.18", plan)
    assert grants(old) == {"r0": 0, "w": 100, "r1": 105}


def test_modern_rule5_readers_pass_a_writer_spinning_on_readers_until_it_queues():
    """rwsem_optimistic_spin: a spinning writer is not on the wait list, so r1
    still takes the fast path at 5; after rwsem_rspin_threshold (10.5 us for
    one reader) w marks the lock NONSPINNABLE and queues, and r2 at 12 queues
    behind it (rule 2)."""
    assert rspin_threshold_us(1) == 10.5 and rspin_threshold_us(100) == 25.0
    plan = [("r0", 0, "r", 100), ("w", 1, "w", 5), ("r1", 5, "r", 10), ("r2", 12, "r", 1)]
    log, sem = play("modern", plan, wakeup_us=10, probes=(11,))
    assert grants(log) == {"r0": 0, "r1": 5, "w": 110, "r2": 115}
    assert (11, "holders", ["r0", "r1"]) in log
    assert not sem.nonspinnable                   # cleared by the last up_read with waiters


def test_modern_rule5_a_spinning_writer_takes_the_lock_from_a_writer_ahead_of_waiters():
    """rwsem_optimistic_spin on a writer owner: w1 spins, and at w0's up_write
    takes the lock before rwsem_mark_wake runs, ahead of r1, which queued
    first (rule 6: readers are granted at wake only if no writer took it
    first). r1 has not waited past its timeout, so no HANDOFF."""
    plan = [("w0", 0, "w", 3000), ("r1", 1, "r", 10), ("w1", 2, "w", 50)]
    log, sem = play("modern", plan, wakeup_us=10)
    assert grants(log) == {"w0": 0, "w1": 3000, "r1": 3050}
    assert sem.steals == 1 and sem.handoffs == 0


def test_modern_rule4_writer_lock_stealing_past_a_woken_writer():
    """A writer arriving at a free lock takes it although w1 waits (woken at
    100, running at 110): rwsem_try_write_lock_unqueued. w1 finds it held,
    sleeps, and is woken again by w2's up_write."""
    plan = [("r0", 0, "r", 100), ("w1", 1, "w", 5), ("w2", 105, "w", 50)]
    log, sem = play("modern", plan, wakeup_us=10)
    assert grants(log) == {"r0": 0, "w2": 105, "w1": 165}
    assert sem.steals == 1


def test_modern_rule7_the_writer_sets_handoff_itself_when_it_runs_after_its_timeout():
    """rwsem_try_write_lock: w (queued at 11.5 us, timeout jiffy 1) is robbed by
    r1 at 2005 (it runs at 2010, fails, has not timed out: no HANDOFF) and by
    r2 at 9005 (woken at 9000, not yet running: no HANDOFF yet). Running at
    9010, in jiffy 2, it fails again and sets HANDOFF. Then r3 (9300) queues
    behind it anyway (readers own the lock), r4 (9505) finds the lock free
    but HANDOFF set and queues, and w2 (9506, no spinning) may not steal
    either: w takes the lock when it runs at 9510; the readers follow, w2
    last."""
    plan = [("r0", 0, "r", 2000), ("w", 1, "w", 50), ("r1", 2005, "r", 6995),
            ("r2", 9005, "r", 495), ("r3", 9300, "r", 10), ("r4", 9505, "r", 10),
            ("w2", 9506, "w", 5)]
    log, sem = play("modern", plan, wakeup_us=10, spin_on_owner=False)
    assert grants(log) == {"r0": 0, "r1": 2005, "r2": 9005, "w": 9510,
                           "r3": 9560, "r4": 9560, "w2": 9580}
    assert (sem.steals, sem.handoffs) == (2, 1)
    assert not sem.handoff                        # cleared when w took the lock


def test_modern_rule8_the_waker_sets_handoff_for_a_reader_head_after_its_timeout():
    """rwsem_mark_wake: w1, spinning on w0, takes the lock at w0's up_write
    (10000) before the waker reaches the reader r1. r1 queued in jiffy 0 and
    it is jiffy 2: the waker sets HANDOFF. So w2, spinning on w1, may not take
    the lock at w1's up_write; r1 is granted then (which clears HANDOFF), and
    w2, now spinning on a reader, gives up after 10.5 us and queues."""
    plan = [("w0", 0, "w", 10000), ("r1", 1, "r", 100), ("w1", 2, "w", 50), ("w2", 10010, "w", 5)]
    log, sem = play("modern", plan, wakeup_us=10)
    assert grants(log) == {"w0": 0, "w1": 10000, "r1": 10050, "w2": 10160}
    assert (sem.steals, sem.handoffs) == (1, 1)


@pytest.mark.parametrize("hz, r1, w2", [(250, 6055, 6050), (1000, 6050, 6160)])
def test_modern_rule9_the_timeout_is_div_round_up_hz_250_jiffies(hz, r1, w2):
    """RWSEM_WAIT_TIMEOUT = DIV_ROUND_UP(HZ, 250) jiffies, tested with
    time_after. The rule-8 schedule with w0 holding 6 ms: at HZ=250 (timeout
    jiffy 1, now jiffy 1) r1 has not timed out and the spinning writers keep
    taking the lock past it; at HZ=1000 (timeout jiffy 4, now jiffy 6) it has,
    and HANDOFF gets it in at w1's up_write."""
    assert [rwsem_wait_timeout(h) for h in (100, 250, 300, 1000)] == [1, 1, 2, 4]
    plan = [("w0", 0, "w", 6000), ("r1", 1, "r", 100), ("w1", 2, "w", 50), ("w2", 6010, "w", 5)]
    log, sem = play("modern", plan, wakeup_us=10, hz=hz)
    assert grants(log) == {"w0": 0, "w1": 6000, "r1": r1, "w2": w2}
    assert sem.handoffs == (hz == 1000)


def test_modern_rule6_head_reader_wakes_readers_past_queued_writers():
    """rwsem_mark_wake (d3681e269fff, v5.3): when the head waiter is a reader,
    every queued reader is granted, even those behind a writer (phase-fair);
    2.6.18 stops at the first writer. (No spinning, so that w1 queues.)"""
    plan = [("w0", 0, "w", 10), ("r1", 1, "r", 4), ("w1", 2, "w", 5), ("r2", 3, "r", 6), ("r3", 4, "r", 1)]
    modern, _ = play("modern", plan, spin_on_owner=False)
    assert grants(modern) == {"w0": 0, "r1": 10, "r2": 10, "r3": 10, "w1": 16}
    old, _ = play("2.6.18", plan)
    assert grants(old) == {"w0": 0, "r1": 10, "w1": 14, "r2": 19, "r3": 19}


def test_modern_reader_wakeup_stops_at_max_readers_wakeup():
    """At most MAX_READERS_WAKEUP (256) readers are granted at once; the rest
    stay queued behind the writer that is now at the head."""
    n = MAX_READERS_WAKEUP + 10
    plan = [("w0", 0, "w", 10), ("r0", 1, "r", 5), ("w1", 2, "w", 5)]
    plan += [(f"r{i}", 3, "r", 5) for i in range(1, n)]
    log, _ = play("modern", plan, spin_on_owner=False)
    g = grants(log)
    at_once = sorted(int(task[1:]) for task, t in g.items() if t == 10 and task.startswith("r"))
    assert at_once == list(range(MAX_READERS_WAKEUP))
    assert g["w1"] == 15
    assert {g[f"r{i}"] for i in range(MAX_READERS_WAKEUP, n)} == {20}


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
    queues; the reader is back at 100 + wakeup_us either way (granted at
    wake). Then a reader holds 200-300 while a writer queues: 2.6.18 grants
    the writer at up_read, modern only wakes it and it takes the lock when it
    runs -- both are back at 300 + wakeup_us."""
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
@given(plan=PLANS, rules=st.sampled_from(["2.6.18", "modern", "modern, no spinning"]),
       wakeup=st.sampled_from([0.0, 5.0]))
def test_random_schedules_never_share_a_writer_and_never_lose_a_waiter(plan, rules, wakeup):
    """Whatever the arrivals: a writer never holds the lock with anyone, every
    request is granted in the end (no lost wake-up), and under 2.6.18 the
    grant order is the request order."""
    named = [(f"{kind}{i}", at, kind, hold) for i, (at, kind, hold) in enumerate(plan)]
    kw = {"spin_on_owner": False} if rules.endswith("no spinning") else {}
    log, sem = play(rules.split(",")[0], named, wakeup_us=wakeup, **kw)
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
        assert "_do_put" in vars(cls) and "up" in vars(cls)

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
