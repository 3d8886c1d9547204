"""scripts/calibrate_tiers.py on a built index: it reports and, with --save, stores."""
import json
import re
import sqlite3
import subprocess
import sys

import pytest

from tests.support.commands import ROOT
from tests.support.index_lists import query


@pytest.mark.parametrize("built", ["sqlite"], indirect=True)
def test_calibrate_tiers_script_reports_and_saves(built, tmp_path):
    copy = tmp_path / "copy.sqlite3"
    with sqlite3.connect(built.url.removeprefix("sqlite:///")) as source, \
            sqlite3.connect(copy) as target:
        source.backup(target)
    url = f"sqlite:///{copy}"
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "calibrate_tiers.py"),
                             "--weights", "none", "--pictures", "4", "--database-url", url,
                             "--save"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "cropped 5% a side" in result.stdout and "distinct pairs (216)" in result.stdout
    printed = float(re.search(r"near-duplicate threshold: ([\d.]+)", result.stdout)[1])
    (threshold, calibration), = query(url, "SELECT near_duplicate_threshold, calibration "
                                           "FROM embedders")
    assert threshold == printed and json.loads(calibration)["pictures"] == 4
