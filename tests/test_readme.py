"""The README's example runs as written, and the README shows the two commands."""

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_opens_with_the_two_commands():
    head = README.read_text().split("\n## ", 1)[0]
    assert "make " in head and "make test" in head


def test_readme_example_runs():
    text = README.read_text()
    block = re.search(r"<!-- readme-example:begin -->\s*```python\n(.*?)```", text, re.S)
    assert block, "README.md lost its example block"
    out = subprocess.run([sys.executable, "-c", block.group(1)], capture_output=True,
                         text=True, cwd=README.parent)
    assert out.returncode == 0, out.stderr
    # 1.0 is exact in FP8_E4M3, 0.3 rounds to 0.3125, 500 overflows to NaN (no Inf),
    # -1e-9 underflows to -0; 1.5 * 3.0 = 4.5 is exact in BF16.
    assert "['0x38', '0x2a', '0x7f', '0x80'] [ 1.      0.3125     nan -0.    ]" in out.stdout
    assert "[4.5]" in out.stdout
