"""Fatal signals: SIGKILL sent to a thread at a given time, and where it takes effect.

A scenario may list ``Signal(thread, at_ms)``: at that time the thread is
sent SIGKILL (kill -9 from another process). What happens next depends
on where the thread is and on the kernel modelled:

* in user space (thinking between accesses): it dies at once -- the
  signal interrupts it (an IPI, and the return-to-user path runs);
* in the kernel, it dies only where that kernel looks:
  - at the return to user space at the end of a fault (every kernel:
    exit_to_user_mode / do_notify_resume delivers the signal before the
    faulting instruction runs again): ``return_to_user``;
  - where a later kernel checks ``fatal_signal_pending`` inside the retry
    loop. KOSAKI Motohiro's "x86,mm: make pagefault killable"
    (37b23e0525d3, committed 24 May 2011, in 3.0 by that date: not
    2.6.37 or 2.6.38; posted as <20110322200945.B06D.A69D9226@jp.fujitsu.com>)
    made the page wait killable (wait_on_page_locked_killable,
    __lock_page_killable under FAULT_FLAG_KILLABLE) and made x86's
    do_page_fault return on VM_FAULT_RETRY with a fatal signal pending
    instead of retrying; 5.7 folded the check into fault_signal_pending()
    (Peter Xu, with 4064b9827063). A policy says whether its kernel has
    it (``Policy.fatal_signal_on_retry``), and uses the killable
    sleeps (``pagecache.lock_page_killable``) where its kernel does;
  - nowhere else: an uninterruptible sleep (lock_page, wait_on_page_locked,
    down_read in 2.6.x) is not cut short, and an in-kernel ``goto retry``
    loop with no check (retry_unlimited) never returns to user space, so
    its task cannot be killed at all.

Recorded: ``signal`` (sent; ``sig=SIGKILL``) and ``killed`` (the thread died;
``where`` = ``user``, ``return_to_user`` or ``fault_signal_pending``).

Simplification: only SIGKILL (no handlers, no other signals); a thread
inside a syscall (mmap, munmap, fadvise) dies when the syscall returns;
a get_user_pages fault made for a syscall never checks.
"""
from __future__ import annotations

from dataclasses import dataclass

from .schema import MAX_SIGNALS, MAX_UNTIL_MS, normalize, spec


@dataclass(frozen=True, slots=True)
class Signal:
    """SIGKILL to thread ``thread`` at ``at_ms`` into the run (a time past
    the run's end sends nothing)."""

    thread: str = spec("", "text", help="the thread the signal is sent to (its name)")
    at_ms: float = spec(1.0, "real", "ms", low=0.0, low_open=True, high=MAX_UNTIL_MS,
                        help="when the signal is sent, from the start of the run")

    def __post_init__(self):
        normalize(self)


def signals_field():
    """Scenario.signals: its spec (a tuple of Signal, each checked by its fields' specs)."""
    return spec((), "items", high=MAX_SIGNALS, item=Signal, help="SIGKILLs sent during the run (signals.py)")


class TaskExit(Exception):
    """The thread is dying (do_exit after a fatal signal): not an error; the
    thread's body ends here."""


def start(k) -> None:
    """Start one sender per Signal in the scenario."""
    by_name = {t.name: t for t in k.tasks}
    for sig in k.scenario.signals:
        k.env.process(_send_at(k, by_name[sig.thread], sig.at_ms * 1000.0))


def _send_at(k, task, at_us):
    yield k.env.timeout(at_us)
    send_sigkill(k, task)


def send_sigkill(k, task) -> None:
    """Mark SIGKILL pending, wake a killable sleeper, and kill a thread that
    is in user space now."""
    if task.dead or task.sigkill:
        return
    task.sigkill = True
    k.rec.emit(task.name, "signal", sig="SIGKILL")
    if task.kill_event is not None:
        task.kill_event.succeed()
    if not task.in_op and task.proc is not None and task.proc.is_alive:
        task.proc.interrupt("SIGKILL")


def kill_event(k, task):
    """The event a killable sleep waits on beside its own (fires at SIGKILL)."""
    if task.kill_event is None:
        task.kill_event = k.env.event()
        if task.sigkill:
            task.kill_event.succeed()
    return task.kill_event


def return_to_user(k, task, where="return_to_user") -> None:
    """On the way back to user space: a pending SIGKILL kills the task here
    (the thread's body ends; ``exited`` records it)."""
    if task.sigkill:
        raise TaskExit(where)


def exited(k, task, where) -> None:
    """Record the death of a thread whose body a TaskExit (or, in user space,
    an interrupt) ended."""
    task.dead = True
    task.in_op = False
    k.rec.emit(task.name, "killed", where=where)
