"""One uninterrupted tiny Table 1 run, the reference every resume test compares with."""

from pathlib import Path

import pytest
from run_helpers import TINY, cli, only_folder


@pytest.fixture(scope="session")
def uninterrupted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("whole")
    proc = cli(["table1", *TINY, "--jobs", "1", "--out", str(out)])
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    return only_folder(out)
