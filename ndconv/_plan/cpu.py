"""Which CPU this is, for the choices that depend on the machine rather than
on the kernel build (the cost model's constants, non-temporal stores).

Read once from Linux's ``/proc/cpuinfo``; None where it cannot be read (other
systems), and every choice has a default for that case.
"""
import functools


def model_from(text):
    """``model`` from the text of ``/proc/cpuinfo``."""
    fields = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break       # the first processor's block is enough
            continue
        key, _, val = line.partition(":")
        fields.setdefault(key.strip(), val.strip())
    for names in (("vendor_id", "cpu family", "model"), ("CPU implementer", "CPU part")):
        if all(fields.get(n) for n in names):
            return " ".join(fields[n] for n in names)
    return None


@functools.cache
def model():
    """The CPU model as the cost model names it: ``"vendor family model"`` on
    x86 (``"AuthenticAMD 25 17"``), ``"implementer part"`` on ARM; None where
    it cannot be read."""
    try:
        with open("/proc/cpuinfo") as f:
            return model_from(f.read())
    except OSError:
        return None


def vendor():
    """``"AuthenticAMD"``, ``"GenuineIntel"``, an ARM implementer code such as
    ``"0x41"``, or None where the model cannot be read."""
    m = model()
    return m.split()[0] if m else None
