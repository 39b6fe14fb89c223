"""GPUs as NVML sees them, and a monitor thread that samples memory and utilisation.

NVML (``pynvml`` from nvidia-ml-py) reads the driver directly: it works before torch
initialises CUDA and sees memory used by other processes, which torch cannot. On a
machine without an NVIDIA driver everything here returns "no GPU" instead of failing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass

GIB = 1024**3


@dataclass(frozen=True)
class GpuInfo:
    index: int
    name: str
    total_gb: float
    free_gb: float
    driver: str

    def as_dict(self) -> dict:
        return asdict(self)


def _nvml():
    import pynvml

    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return None
    return pynvml


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def detect_gpus() -> list[GpuInfo]:
    """Every NVIDIA GPU with its memory; an empty list where there is no driver."""
    nvml = _nvml()
    if nvml is None:
        return []
    try:
        driver = _text(nvml.nvmlSystemGetDriverVersion())
        gpus = []
        for index in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            memory = nvml.nvmlDeviceGetMemoryInfo(handle)
            gpus.append(GpuInfo(index, _text(nvml.nvmlDeviceGetName(handle)), round(memory.total / GIB, 2),
                                round(memory.free / GIB, 2), driver))
        return gpus
    finally:
        nvml.nvmlShutdown()


class GpuMonitor:
    """Samples memory used and utilisation of one GPU every ``interval`` seconds into ``sink``.

    ``sink`` receives dicts (``gpu_mem_used_gb``, ``gpu_mem_total_gb``, ``gpu_util_pct``) and
    is typically the run's event log. Without a GPU the monitor does nothing and says so via
    ``available``.
    """

    def __init__(self, sink: Callable[[dict], None], index: int = 0, interval: float = 5.0):
        self.sink, self.index, self.interval = sink, index, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.nvml = _nvml()
        self.available = self.nvml is not None and index < self.nvml.nvmlDeviceGetCount()

    def sample(self) -> dict:
        handle = self.nvml.nvmlDeviceGetHandleByIndex(self.index)
        memory = self.nvml.nvmlDeviceGetMemoryInfo(handle)
        util = self.nvml.nvmlDeviceGetUtilizationRates(handle)
        return {"gpu_mem_used_gb": round(memory.used / GIB, 2), "gpu_mem_total_gb": round(memory.total / GIB, 2),
                "gpu_util_pct": int(util.gpu)}

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sink(self.sample())

    def __enter__(self) -> "GpuMonitor":
        if self.available:
            self._thread = threading.Thread(target=self._run, name="gpu-monitor", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 1)
        if self.nvml is not None:
            self.nvml.nvmlShutdown()
