"""The register wrapper: every unit is measured between input and output registers.

nextpnr reports an Fmax only for register-to-register paths, so a purely combinational unit
(``stages=0``) would get none, and a pipelined unit's first and last stages would be timed
against unconstrained I/O. The wrapper puts one register on every input bit and every output
bit of the unit's signature (all stream payload, valid and ready bits) and one on the reset,
so that every path through the unit starts and ends at a flip-flop:

    clk;  rst ──► rst_q ──► unit.rst (when the unit has a reset)
    port ──► [input regs] ──► unit ──► [output regs] ──► port

The wrapper is generated in Amaranth from the unit's signature and instantiates the unit's
Verilog top module by name (`Instance`), so yosys synthesizes the very file that the
simulations checked. The wrapper's registers have no reset and no enable; the unit keeps its
own synchronous reset (nnrtl datapaths use no asynchronous reset).

How the wrapped design meets the package (recorded in every result as ``context``):

``out-of-context`` (ECP5, always)
    nextpnr-ecp5 ``--out-of-context``: no I/O buffers, no pin assignment, no global clock
    promotion. Used for every ECP5 run, whether or not the ports would fit the package's pins,
    so that small and large units are measured the same way.
``scan`` (iCE40, always)
    nextpnr-ice40 has no out-of-context mode and the UP5K SG48 has only 39 I/O pins, so the
    input registers form one shift register fed from a single ``scan_in`` pin (no logic is
    added: each register's D input is the previous register), and the output registers carry
    a ``keep`` attribute instead of driving pins. Pins used: ``clk``, ``rst`` (if the unit
    has a reset) and ``scan_in``.
    Side effect: an output register that copies an input bit directly may be merged with the
    next register of the chain (identical D inputs), so FF counts can be 1–2 lower.

The wrapper's own flip-flops are counted in `Wrapped.wrapper_ff`; results report the total
FF count and the unit's share (total − wrapper).
"""

import dataclasses
import re

from amaranth.back import verilog as amaranth_verilog
from amaranth.hdl import Cat, ClockDomain, ClockSignal, Instance, Module, Shape, Signal
from amaranth.lib import wiring

__all__ = ["WRAPPER_TOP", "CONTEXTS", "Port", "Wrapped", "unit_ports", "verilog_ports", "wrap"]

WRAPPER_TOP = "nnrtl_wrapper"
CONTEXTS = ("out-of-context", "scan")


@dataclasses.dataclass(frozen=True)
class Port:
    """One flattened port of a unit: ``i__payload`` etc., as Amaranth names it in Verilog."""

    name: str
    direction: str      # "in" or "out", seen from the unit
    width: int


@dataclasses.dataclass(frozen=True)
class Wrapped:
    """The wrapper's Verilog and what it contains.

    Members
    -------
    text : str
        Verilog of module `WRAPPER_TOP` (it instantiates the unit's top as a black box).
    context : str
        ``"out-of-context"`` or ``"scan"`` (see the module documentation).
    input_bits, output_bits : int
        Register bits on the unit's inputs and outputs.
    wrapper_ff : int
        Flip-flops the wrapper adds (input + output bits, + 1 for the reset if the unit has one).
    pins : int
        Top-level pins of the wrapped design (clock included).
    """

    text: str
    context: str
    input_bits: int
    output_bits: int
    wrapper_ff: int
    pins: int


def unit_ports(unit):
    """The unit's signature, flattened into `Port` objects (in signature order)."""
    ports = []
    for path, member, _ in unit.signature.flatten(unit):
        name = "__".join(str(part) for part in path)
        width = Shape.cast(member.shape).width
        ports.append(Port(name, "in" if member.flow == wiring.In else "out", width))
    return ports


_MODULE = r"^\s*module\s+{top}\s*\((?P<ports>[^)]*)\)\s*;(?P<body>.*?)^\s*endmodule"
_DECL = re.compile(r"^\s*(input|output|inout)\s+(?:wire\s+|reg\s+)?(?:signed\s+)?"
                   r"(?:\[(\d+):(\d+)\]\s*)?\\?([A-Za-z_$][\w$.]*)\s*;", re.M)


def verilog_ports(text, top):
    """``{name: (direction, width)}`` of module `top` in Amaranth-generated Verilog `text`."""
    match = re.search(_MODULE.format(top=re.escape(top)), text, re.M | re.S)
    if match is None:
        raise ValueError(f"module {top!r} not found in the unit's Verilog")
    ports = {}
    for kind, msb, lsb, name in _DECL.findall(match.group("body")):
        width = abs(int(msb) - int(lsb)) + 1 if msb else 1
        ports[name] = ({"input": "in", "output": "out"}.get(kind, kind), width)
    return ports


def wrap(unit, unit_text, unit_top, *, context):
    """Build the register wrapper around `unit` whose Verilog `unit_text` has top `unit_top`.

    Parameters
    ----------
    unit : wiring.Component
        The unit object (its signature gives the ports).
    unit_text : str
        The unit's Verilog, as synthesized (checked against the signature: the only ports
        outside it may be ``clk`` and ``rst``).
    unit_top : str
        Its top module name.
    context : str
        ``"out-of-context"`` (ports become wrapper pins) or ``"scan"`` (pin-lean, see above).

    Returns
    -------
    Wrapped
    """
    if context not in CONTEXTS:
        raise ValueError(f"context must be one of {', '.join(CONTEXTS)}, not {context!r}")
    ports = unit_ports(unit)
    found = verilog_ports(unit_text, unit_top)
    expected = {port.name: (port.direction, port.width) for port in ports}
    extra = {name: spec for name, spec in found.items() if name not in expected}
    has_clk, has_rst = extra.pop("clk", None) == ("in", 1), extra.pop("rst", None) == ("in", 1)
    mismatched = {name: (found.get(name), spec) for name, spec in expected.items()
                  if found.get(name) != spec}
    if extra or mismatched:
        raise ValueError(f"the Verilog of {unit_top} does not match the unit's signature: "
                         f"unexpected ports {sorted(extra)}, mismatched {mismatched}")
    if has_rst and not has_clk:
        raise ValueError(f"{unit_top} has a rst port but no clk port")

    m = Module()
    domain = ClockDomain("sync", reset_less=True)
    m.domains += domain
    pins = [domain.clk]
    connections = {}
    wrapper_ff = 0
    if has_clk:
        connections["i_clk"] = ClockSignal("sync")
    if has_rst:
        rst = Signal(name="rst")
        pins.append(rst)
        rst_q = Signal(name="rst_q")
        m.d.sync += rst_q.eq(rst)
        connections["i_rst"] = rst_q
        wrapper_ff += 1

    chain = []
    input_bits = output_bits = 0
    for port in ports:
        reg = Signal(port.width, name=f"{port.name}_q")
        if port.direction == "in":
            connections[f"i_{port.name}"] = reg
            input_bits += port.width
            if context == "scan":
                chain.append(reg)
            else:
                pin = Signal(port.width, name=port.name)
                pins.append(pin)
                m.d.sync += reg.eq(pin)
        else:
            wire = Signal(port.width, name=f"{port.name}_d")
            connections[f"o_{port.name}"] = wire
            output_bits += port.width
            m.d.sync += reg.eq(wire)
            if context == "scan":
                reg.attrs["keep"] = 1
            else:
                pin = Signal(port.width, name=port.name)
                pins.append(pin)
                m.d.comb += pin.eq(reg)
    if context == "scan" and chain:
        scan_in = Signal(name="scan_in")
        pins.append(scan_in)
        bits = Cat(*chain)
        m.d.sync += bits.eq(Cat(scan_in, bits[:-1]))
    m.submodules.unit = Instance(unit_top, **connections)
    wrapper_ff += input_bits + output_bits
    text = amaranth_verilog.convert(m, name=WRAPPER_TOP, ports=pins, emit_src=False)
    return Wrapped(text=text, context=context, input_bits=input_bits, output_bits=output_bits,
                   wrapper_ff=wrapper_ff, pins=len(pins))
