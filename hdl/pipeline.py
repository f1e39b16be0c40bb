"""Stream pipelines whose register stages are chosen by a ``stages`` parameter.

A unit describes its datapath once, as a chain of named cut points, and `Pipeline` puts
registers at the cut points that the unit's ``stages`` parameter selects. All stages
advance together ("stall-together"): a stage moves when the output is empty or accepted,
so throughput is one item per cycle while the consumer is ready, and back-pressure
stops the whole pipe. Data registers have no reset (they cost no logic on ECP5); only the
valid bits are reset, synchronously.
"""

from amaranth.hdl import Signal

from golden import checks

__all__ = ["Pipeline", "check_stages", "reduce_tree"]


def check_stages(stages, cut_points):
    """Validate a unit's `stages` parameter against its cut points; return it as an int.

    Raises `TypeError` for a non-integer (bools included) and `ValueError` outside
    0..len(cut_points), naming the parameter and the range (`golden.checks.integer`).
    """
    return checks.integer("stages", stages, lo=0, hi=len(cut_points))


class Pipeline:
    """Registers selected cut points of a stream datapath.

    Parameters
    ----------
    m : Module
        The module to add logic to.
    i : stream interface
        The unit's input port (flipped stream).
    o : stream interface or None
        The unit's output port, which `finish` drives; or None when the last stage feeds
        a register of the unit itself (an accumulator): the unit then reads `valid` and
        the last stage's values, and drives `ready` high in the cycles it takes them.
    cuts : collection of str
        The cut point names that get a register; the others are wires.

    Members
    -------
    advance : Signal
        High when every stage moves forward this cycle (also ``i.ready``).
    valid, ready : Signal
        The last stage holds an item; it is taken this cycle (``o.valid``, ``o.ready``
        with a stream output).
    latency : int
        Cycles from an accepted input to the last stage: the number of registered cuts.
    """

    def __init__(self, m, i, o, cuts):
        self.m = m
        self._cuts = frozenset(cuts)
        self._used = set()
        self._o = o
        self._valid = i.valid
        if o is None:
            self.valid, self.ready = Signal(name="pipe_valid"), Signal(name="pipe_ready")
        else:
            self.valid, self.ready = o.valid, o.ready
        self.advance = Signal()
        m.d.comb += [self.advance.eq(~self.valid | self.ready), i.ready.eq(self.advance)]

    @property
    def latency(self):
        return len(self._cuts)

    def stage(self, name, **values):
        """Return `values` registered if `name` is a selected cut point, else unchanged.

        Returns a dict with the same keys; registered values keep their shapes.
        """
        if name in self._used:
            raise ValueError(f"cut point {name!r} is used twice")
        self._used.add(name)
        if name not in self._cuts:
            return values
        valid = Signal(name=f"{name}_valid")
        registered = {}
        with self.m.If(self.advance):
            self.m.d.sync += valid.eq(self._valid)
            for key, value in values.items():
                reg = Signal(value.shape(), name=f"{name}_{key}", reset_less=True)
                self.m.d.sync += reg.eq(value)
                registered[key] = reg
        self._valid = valid
        return registered

    def finish(self, payload=None):
        """Drive `valid` (and the output stream's payload) from the last stage. Checks
        that every cut point was placed, and that a payload is given exactly when the
        pipeline has a stream output."""
        missing = self._cuts - self._used
        if missing:
            raise ValueError(f"cut points {sorted(missing)} were never placed")
        if (payload is None) != (self._o is None):
            raise ValueError("finish() takes a payload exactly when the pipeline has a "
                             "stream output")
        self.m.d.comb += self.valid.eq(self._valid)
        if self._o is not None:
            self.m.d.comb += self._o.payload.eq(payload)


def reduce_tree(pipe, items, add, **side):
    """Pairwise reduction of `items` by ``add(x, y, name)``, level by level (an odd last
    item passes to the next level), with a cut point ``level{d}`` after each level d but
    the last (registered when the unit selected it); `side` values travel along. Returns
    (sum, side values). Used by the dot-product units' adder trees."""
    level, depth = list(items), 0
    while len(level) > 1:
        nxt = [add(level[j], level[j + 1], f"t{depth}_{j // 2}")
               for j in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level, depth = nxt, depth + 1
        if len(level) > 1:
            v = pipe.stage(f"level{depth - 1}", **side,
                           **{f"x{j}": x for j, x in enumerate(level)})
            level = [v.pop(f"x{j}") for j in range(len(level))]
            side = v
    return level[0], side
