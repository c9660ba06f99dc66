"""The arena never imports torch: its image is the actor's (ONNX Runtime only)."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
import arena.cli, arena.loop, arena.metrics
import cartridge.cli.ratings
assert "onnxruntime" in sys.modules and "sqlalchemy" in sys.modules, "the check must load them"
print(",".join(sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))))
"""


def test_the_arena_does_not_import_torch() -> None:
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"torch modules imported: {result.stdout.strip()}"
