"""`.ci/device-check`, the script a lent GPU machine runs, dry-run on the CPU: a GPU lease is 15 minutes,
so a broken script must show up here, not there.

The tree is copied the way the device tool copies it (no git folder), with the device kit's
``.whl/git-state.env`` and no wheels, and ``run`` is given a budget that one piece spends."""

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
FAKE_COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.slow
def test_run_packs_finished_pieces_with_the_kit_commit_when_the_budget_is_spent(tmp_path):
    tree, out = tmp_path / "tree", tmp_path / "out"
    shutil.copytree(REPO / "src", tree / "src", ignore=shutil.ignore_patterns("__pycache__"))
    (tree / ".ci").mkdir(parents=True)
    shutil.copy(REPO / ".ci" / "device-check", tree / ".ci" / "device-check")
    (tree / ".whl").mkdir()
    (tree / ".whl" / "git-state.env").write_text(f"FWILAB_GIT_COMMIT={FAKE_COMMIT}\nFWILAB_GIT_DIRTY=0\n")
    env = {**os.environ, "OUT": str(out), "FWILAB_DEVICE": "cpu",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("PYTHONPATH", None)
    for name in ("FWILAB_GIT_COMMIT", "FWILAB_GIT_DIRTY"):
        env.pop(name, None)
    res = subprocess.run(["bash", ".ci/device-check", "run", "baselines", "smoke", "1"], cwd=tree, env=env,
                         capture_output=True, text=True, timeout=600)
    log = res.stdout + res.stderr
    assert res.returncode == 3, log  # the budget was spent after the first piece: partial, pieces kept
    # what comes back fits the device tool's 8 files: one log and the archive
    assert sorted(p.name for p in out.iterdir()) == ["device-check.log", "results-baselines-smoke.tar.gz"]
    assert "== run-baselines-smoke: exit 3" in (out / "device-check.log").read_text()
    with tarfile.open(out / "results-baselines-smoke.tar.gz") as tar:
        names = tar.getnames()
        pieces = [n for n in names if n.startswith("results/baselines/smoke/pieces/") and n.endswith(".npz")]
        assert len(pieces) == 1, names
        assert not any("checkpoints" in n for n in names), names
        with np.load(io.BytesIO(tar.extractfile(pieces[0]).read())) as z:
            metrics = json.loads(str(z["__metrics__"]))
    assert metrics["piece_git_commit"] == FAKE_COMMIT and metrics["piece_git_dirty"] is False
