"""faultlab: the Linux page-fault path and its mmap_sem convoy, as a model.

    import faultlab
    r = faultlab.run(faultlab.workloads.two_thread(policy="sync"))
    r.summary()

See ``faultlab.fault`` for the fault path, ``faultlab.policies`` for the
designs, ``faultlab.workloads`` for ready-made scenarios.
"""
from . import workloads
from .policies import POLICIES
from .result import Result
from .errors import InputError, ModelBug
from .scenario import Costs, Disk, Scenario
from .threads import Evictor, Locker, Mapper, Reader, Script, Truncater
from .signals import Signal
from .sim import run

__all__ = ["Costs", "Disk", "Evictor", "InputError", "Locker", "Mapper", "ModelBug", "POLICIES", "Reader", "Result",
           "Scenario", "Script", "Signal", "Truncater", "run", "workloads"]
__version__ = "0.1.0"
