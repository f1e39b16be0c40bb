"""Shared set-up for the scripts: repository root on sys.path, design-set loading, README
sections, the command of a digits-MLP accuracy study."""

import os
import re
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _interrupted_early(signum, frame):
    # Ctrl-C / SIGTERM while a script is still importing (before `run_script` takes
    # over): nothing has started, so leave at once, quietly.
    sys.stderr.write("interrupted; run again to resume\n")
    sys.stderr.flush()
    os._exit(128 + signum)


if Path(sys.argv[0] or ".").resolve().parent == ROOT / "scripts":     # run as a script
    for _signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(_signal, _interrupted_early)


def design_units(path):
    """The distinct (unit, params) pairs of a design-set TOML file, in file order."""
    from fpga import designs
    return designs.unit_instances(designs.load(path))


def check_readme_section(name, readme=None):
    """Return (path, content, begin, end) of README.md's section `name`; SystemExit naming
    the markers if it lacks them (call it before long work that ends in a write)."""
    readme = Path(readme) if readme else ROOT / "README.md"
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    content = readme.read_text()
    if begin not in content or end not in content:
        raise SystemExit(f"{readme} lacks the markers {begin} ... {end}")
    return readme, content, begin, end


def write_readme_section(name, text, readme=None):
    """Replace the text between ``<!-- name:begin -->`` and ``<!-- name:end -->`` in
    README.md with `text`; SystemExit naming the markers if README.md lacks them."""
    readme, content, begin, end = check_readme_section(name, readme)
    head, rest = content.split(begin, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{begin}\n{text.rstrip()}\n{end}{tail}")
    print(f"wrote the {name} figures into {readme}")


def parse_params(text):
    """``"fmt=bf16,stages=2"`` → ``{"fmt": "bf16", "stages": 2}``; raises `ValueError`."""
    params = {}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        if "=" not in item:
            raise ValueError(f"parameters must look like 'name=value,name=value', "
                             f"not {item!r} in {text!r}")
        name, value = (part.strip() for part in item.split("=", 1))
        if not name.isidentifier():
            raise ValueError(f"parameter name must be an identifier, not {name!r}")
        if re.fullmatch(r"[+-]?\d+", value):
            value = int(value)
        elif re.fullmatch(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?", value):
            value = float(value)
        elif value.lower() in ("true", "false"):
            value = value.lower() == "true"
        params[name] = value
    return params


def same_destination(first, second):
    """True when streams `first` and `second` write to the same file or terminal (then a
    line shown on one need not be repeated on the other)."""
    try:
        a, b = os.fstat(first.fileno()), os.fstat(second.fileno())
    except (AttributeError, OSError, ValueError):
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def run_script(main, argv=None):
    """Run a script's ``main(argv)`` and return its exit status, with the shared handling
    of interrupts and file-system failures (no traceback for either; a signal that comes
    while the script is still importing ends it with the same exit status):

    - SIGINT / SIGTERM (`fpga.sweep.Interrupted`): one line, ``interrupted: N of M done;
      run again to resume``, exit status 130 / 143; a sweep in progress stops its runs and
      their tools first (`fpga.sweep.run_jobs`);
    - a file that cannot be written (`fpga.cache.WriteError`): ``error: cannot write PATH
      (WHAT): REASON``, exit status 2.

    Use ``sys.exit(_common.run_script(main))``; inside `main`, wrap writes in
    ``fpga.cache.writing(path, "what is written")`` so that the message says what it was.
    """
    from fpga import cache, sweep
    with sweep.handle_signals():
        try:
            return main(argv)
        except sweep.Interrupted as exc:
            print(exc, file=sys.stderr)
            return exc.exit_code
        except cache.WriteError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2


def digits_study(argv, *, name, description, evaluate, study, about, charts=None,
                 timings=None):
    """The command of an accuracy study on the digits MLP (scripts/mlp_digits.py,
    scripts/posit_digits.py): train or load the model, ``rows = evaluate(model)``,
    ``study(model, rows)`` (name, title, paragraphs, tables), write it for the FPGA report
    (with ``charts(rows)`` and `about`), print its Markdown and, with ``--readme``, write it
    into README.md between the `name` markers (checked before the work). Progress on
    stderr, with ``timings(rows)`` after the total time."""
    import argparse
    import time
    from fpga import studies
    from models import digits
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--readme", action="store_true",
                        help=f"write the study into README.md between the {name} markers")
    args = parser.parse_args(argv)
    if args.readme:
        check_readme_section(name)                    # before the work, not after
    start = time.monotonic()
    print(f"training or loading the digits MLP (cache {digits.CACHE_DIR}) ...",
          file=sys.stderr, flush=True)
    model = digits.model()
    rows = evaluate(model)
    content = study(model, rows)
    path = studies.write_study(content["name"], content["title"], content["paragraphs"],
                               content["tables"], about=about,
                               charts=charts(rows) if charts else ())
    text = studies.study_markdown(content, level=3)
    print(text)
    extra = f" ({timings(rows)})" if timings else ""
    print(f"wrote {path} in {time.monotonic() - start:.0f} s{extra}", file=sys.stderr,
          flush=True)
    if args.readme:
        write_readme_section(name, text)
