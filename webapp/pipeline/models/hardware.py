"""What the CPU computes natively; kept apart from embed.py so that asking costs no import."""


def cpu_has_bf16() -> bool:
    """Return True where the CPU computes bf16 natively (AVX512-BF16 or AMX)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def cpu_has_amx() -> bool:
    """Return True where the CPU has AMX tiles for bf16 (Intel Sapphire Rapids and later)."""
    try:
        with open("/proc/cpuinfo") as f:
            return " amx_bf16" in f.read()
    except OSError:
        return False
