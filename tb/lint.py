"""`verilator --lint-only -Wall` over emitted Verilog, with the waiver file tb/lint_waivers.vlt.

The waivers cover only patterns Amaranth's back end always produces (each is explained in the
file); anything else is a finding.
"""

import subprocess
from pathlib import Path

from tb import harness

__all__ = ["WAIVERS", "lint_verilog", "lint_verilog_files"]

WAIVERS = Path(__file__).resolve().parent / "lint_waivers.vlt"


def lint_verilog(path, top):
    """Lint `path` (top module `top`); return the list of warning lines (empty when clean).

    Raises `harness.SimulatorMissing` if Verilator is not installed.
    """
    return lint_verilog_files([path], top)


def lint_verilog_files(paths, top):
    """Lint the Verilog files `paths` together, with top module `top` (see `lint_verilog`)."""
    env = harness.sim_environment("verilator")
    command = ["verilator", "--lint-only", "-Wall", "--top-module", top, str(WAIVERS),
               *map(str, paths)]
    out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    findings = [line for line in (out.stdout + out.stderr).splitlines()
                if line.startswith("%Warning") or (line.startswith("%Error")
                                                   and "Exiting due to" not in line)]
    if out.returncode != 0 and not findings:
        findings = [f"verilator exited with {out.returncode}: {out.stderr.strip()}"]
    return findings
