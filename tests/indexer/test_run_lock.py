"""One run of the job at a time per database; only a build still running is published."""
import contextlib
import subprocess
import sys

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.records import FAILED, Build
from core.settings import normalize_database_url
from indexer import store
from indexer.run_lock import one_run_at_a_time
from tests.indexer.test_rerun import make_source
from tests.support.commands import ROOT, run_build
from tests.support.index_lists import active_lists, query


@contextlib.contextmanager
def session_on(url):
    engine = sa.create_engine(normalize_database_url(url))
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def test_a_second_run_exits_with_one_line_while_another_holds_the_database(
        database_url, tmp_path):
    source = tmp_path / "source"
    make_source(source, groups=2)
    with session_on(database_url) as session, one_run_at_a_time(session):
        blocked = run_build(source, database_url, tmp_path / "t", "--clusters", 0)
    assert blocked.returncode == 1
    assert "another run of the job" in blocked.stderr.strip().splitlines()[-1]
    assert len(blocked.stderr.strip().splitlines()) == 1
    assert run_build(source, database_url, tmp_path / "t", "--clusters", 0).returncode == 0


def test_two_runs_started_together_leave_a_complete_active_index(database_url, tmp_path):
    source = tmp_path / "source"
    paths = make_source(source, groups=3)
    command = [sys.executable, str(ROOT / "scripts" / "build_index.py"), str(source),
               "--database-url", database_url, "--thumbnail-dir", str(tmp_path / "t"),
               "--weights", "none", "--no-progress", "--workers", "0", "--map", "none",
               "--clusters", "0", "--k", "4"]
    runs = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outcomes = [(run.wait(timeout=600), run.stderr.read()) for run in runs]
    assert 0 in [code for code, _ in outcomes], outcomes
    for code, stderr in outcomes:
        assert code == 0 or "another run of the job" in stderr, stderr
    lists = active_lists(database_url)
    assert sorted(lists) == paths and {len(similar) for similar in lists.values()} == {4}


def test_a_build_retired_before_its_publish_is_not_published(database_url, tmp_path):
    source = tmp_path / "source"
    make_source(source, groups=2)
    assert run_build(source, database_url, tmp_path / "t", "--clusters", 0).returncode == 0
    with session_on(database_url) as session:
        (served,) = session.scalars(sa.select(Build.id).where(Build.status == "active"))
        late = Build(root=str(source), model="resnet18", weights="none", model_key="m", k=4)
        session.add(late)
        session.commit()
        late.status = FAILED  # what another run's retiring does to a RUNNING build
        session.commit()
        assert store.publish(session, late) is False
    assert query(database_url, "SELECT id FROM builds WHERE status = 'active'") == [(served,)]
