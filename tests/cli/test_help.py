"""The command line starts fast: `--help` of every command imports neither torch nor Lightning."""

import subprocess
import sys

import pytest

COMMANDS = ["table1", "table2", "attack", "rank", "consistency", "audit", "reproduce"]

PROBE = """
import sys
from typer.testing import CliRunner
from chanpos.cli import app
res = CliRunner().invoke(app, sys.argv[1:])
assert res.exit_code == 0, res.output
heavy = sorted(m for m in ("torch", "lightning", "torchvision", "matplotlib") if m in sys.modules)
print("HEAVY:" + ",".join(heavy))
"""


@pytest.mark.parametrize("args", [["--help"], *[[c, "--help"] for c in COMMANDS]])
def test_help_imports_no_torch(args: list[str]) -> None:
    out = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "HEAVY:\n" in out.stdout, out.stdout


def test_every_command_documents_every_option() -> None:
    from typer.main import get_command

    from chanpos.cli import app

    group = get_command(app)
    for name in COMMANDS:
        command = group.commands[name]
        assert command.help, name
        for param in command.params:
            if param.name != "ctx" and getattr(param, "opts", None):
                assert getattr(param, "help", None), f"{name} {param.opts[0]} has no help"
