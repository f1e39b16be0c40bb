"""FPGA implementation of nnrtl units: yosys + nextpnr runs, cached results, sweeps, reports.

One module per concern:

- `fpga.targets`   the device table (ECP5 25F/45F/85F, iCE40 UP5K/HX8K) and synthesis variants;
- `fpga.tools`     which yosys / nextpnr to run (yowasp from PyPI, or ``$YOSYS`` etc.) and
                   their versions;
- `fpga.wrapper`   the register wrapper that gives every unit, even a combinational one, an Fmax;
- `fpga.parse`     parsers for yosys ``stat -json``, the nextpnr ``--report`` JSON and logs;
- `fpga.cache`     cache keys and atomic result files under ``build/fpga/``;
- `fpga.flow`      one run: `Job` → prepared `spec` → result dict (tool failures are results);
- `fpga.designs`   design-set TOML files: units, parameter grids, targets, comparisons;
- `fpga.executors` the swappable executors (inline, local process pool, Dask);
- `fpga.progress`  the progress line with an ETA;
- `fpga.sweep`     many runs: validation first, cache lookup, parallel execution, results;
- `fpga.report`    tables, plots and the static HTML / Markdown report.

Imports point one way: ``scripts → fpga → hdl → golden``; hdl and golden never import fpga.
"""
