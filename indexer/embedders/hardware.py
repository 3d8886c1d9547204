"""What this machine computes on: the device a run picks, and what the CPU does natively.

Kept apart from the engines so that asking costs no import (torch only to ask CUDA).
"""
import os
import sys


def cpu_has_amx() -> bool:
    """Return True where the CPU has AMX tiles for bf16 (Intel Sapphire Rapids and later).

    AVX512-BF16 alone (AMD Zen 4) is not enough for bf16 to pay: see choice.pick_precision
    and neighbors/exact.py for what was measured.
    """
    try:
        with open("/proc/cpuinfo") as f:
            return " amx_bf16" in f.read()
    except OSError:
        return False


def cpu_has_vnni() -> bool:
    """Return True where the CPU multiplies int8 pairs into int32 sums in one instruction
    (AVX512-VNNI, AVX-VNNI). Without it ONNX Runtime's uint8 x int8 kernels add pairs in
    16 bits, which can saturate: int8's accuracy is then for the measurement to find."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return " avx512_vnni" in flags or " avx_vnni" in flags


def usable_cpus() -> int:
    """Return how many CPUs this process may run on (its affinity, where the OS tells)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


# Where none of these exists on Linux there is no GPU torch could use: NVIDIA's driver, WSL2's
# GPU device, AMD's ROCm device. Then "auto" need not import torch (seconds) to hear "no".
GPU_DEVICES = ("/proc/driver/nvidia/version", "/dev/dxg", "/dev/kfd")


def pick_device(device: str) -> str:
    if device == "cpu":
        return "cpu"
    if device == "auto" and sys.platform == "linux" and not any(map(os.path.exists,
                                                                    GPU_DEVICES)):
        return "cpu"
    import torch
    available = torch.cuda.is_available()
    if device == "cuda" and not available:
        raise RuntimeError("--device cuda asked for, but CUDA is not available here")
    return "cuda" if available else "cpu"
