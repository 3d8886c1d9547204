"""What the CPU computes natively; kept apart from the engines so that asking costs no import."""


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
