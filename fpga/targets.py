"""The FPGA targets nnrtl measures on, and the synthesis variants (DSP on/off, Booth).

A target is named ``<family>-<device>`` with an optional ECP5 speed grade suffix:
``ecp5-85f`` (the default: LFE5U-85F, CABGA381, speed 6), ``ecp5-45f``, ``ecp5-25f``,
``ecp5-85f-8`` (speed grade 8), ``ice40-up5k`` (SG48) and ``ice40-hx8k`` (CT256).

A variant says how multipliers are mapped:

``dsp``
    the family's DSP blocks: ``synth_ecp5`` (its default maps ``*`` to MULT18X18D) or
    ``synth_ice40 -dsp`` (SB_MAC16; UP5K only — the HX8K has no DSP blocks);
``nodsp``
    LUTs and carry chains only: ``synth_ecp5 -nodsp`` / ``synth_ice40`` without ``-dsp``;
``nodsp-booth``
    as ``nodsp``, after the yosys ``booth`` pass has rewritten every multiplier as a
    radix-4 Booth multiplier (smaller LUT multipliers on ECP5).
"""

import dataclasses
import re

__all__ = ["Target", "TARGETS", "VARIANTS", "DEFAULT_TARGET", "DEFAULT_VARIANT", "target",
           "check_variant"]


@dataclasses.dataclass(frozen=True)
class Target:
    """One FPGA device in one package at one speed grade.

    Members
    -------
    name : str
        Canonical name, e.g. ``"ecp5-85f"``.
    family : str
        ``"ecp5"`` or ``"ice40"``.
    device, package : str
        Vendor part (``"LFE5U-85F"``) and package (``"CABGA381"``).
    speed : int or None
        ECP5 speed grade (6, 7 or 8); None for iCE40.
    nextpnr_args : tuple of str
        Device-selection arguments of nextpnr (``--85k --package CABGA381 --speed 6``).
    synth_command : str
        The yosys synthesis script command (``synth_ecp5`` / ``synth_ice40 -device u``).
    has_dsp : bool
        Whether the device has DSP blocks that yosys can infer.
    default_freq_mhz : float
        The ``--freq`` target passed to nextpnr unless another is asked for.
    """

    name: str
    family: str
    device: str
    package: str
    speed: object
    nextpnr_args: tuple
    synth_command: str
    has_dsp: bool
    default_freq_mhz: float

    @property
    def nextpnr(self):
        """The logical tool name of this family's place-and-route program."""
        return f"nextpnr-{self.family}"

    def describe(self):
        speed = f", speed {self.speed}" if self.speed is not None else ""
        return f"{self.device} {self.package}{speed}"


_ECP5 = {"25f": "--25k", "45f": "--45k", "85f": "--85k"}


def _ecp5(size, speed=6):
    return Target(name=f"ecp5-{size}" + ("" if speed == 6 else f"-{speed}"), family="ecp5",
                  device=f"LFE5U-{size.upper()}", package="CABGA381", speed=speed,
                  nextpnr_args=(_ECP5[size], "--package", "CABGA381", "--speed", str(speed)),
                  synth_command="synth_ecp5", has_dsp=True, default_freq_mhz=200.0)


TARGETS = {
    "ecp5-25f": _ecp5("25f"),
    "ecp5-45f": _ecp5("45f"),
    "ecp5-85f": _ecp5("85f"),
    "ice40-up5k": Target(name="ice40-up5k", family="ice40", device="iCE40UP5K", package="SG48",
                         speed=None, nextpnr_args=("--up5k", "--package", "sg48"),
                         synth_command="synth_ice40 -device u", has_dsp=True,
                         default_freq_mhz=50.0),
    "ice40-hx8k": Target(name="ice40-hx8k", family="ice40", device="iCE40HX8K", package="CT256",
                         speed=None, nextpnr_args=("--hx8k", "--package", "ct256"),
                         synth_command="synth_ice40 -device hx", has_dsp=False,
                         default_freq_mhz=100.0),
}
DEFAULT_TARGET = "ecp5-85f"

VARIANTS = ("dsp", "nodsp", "nodsp-booth")
DEFAULT_VARIANT = "dsp"

_SPEED = re.compile(r"^(ecp5-(?:25|45|85)f)-([678])$")


def target(name):
    """The `Target` called `name`; raises `ValueError` listing the known targets.

    Any ECP5 target takes a speed-grade suffix ``-6``, ``-7`` or ``-8``.
    """
    if isinstance(name, Target):
        return name
    if not isinstance(name, str):
        raise TypeError(f"target must be a target name (str), not {name!r}")
    key = name.strip().lower()
    if key in TARGETS:
        return TARGETS[key]
    match = _SPEED.match(key)
    if match:
        size = match.group(1).split("-")[1]
        return _ecp5(size, int(match.group(2)))
    raise ValueError(f"target must be one of {', '.join(TARGETS)} (ECP5 with an optional speed "
                     f"suffix -6/-7/-8, e.g. ecp5-85f-8), not {name!r}")


def check_variant(variant, tgt):
    """Validate `variant` for `tgt` (a `Target`); return it. Raises `ValueError`."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, not {variant!r}")
    if variant == "dsp" and not tgt.has_dsp:
        raise ValueError(f"variant 'dsp' needs DSP blocks, and target {tgt.name!r} "
                         f"({tgt.device}) has none; use 'nodsp'")
    return variant
