"""`sbt run`'s supervisor: a process that exits is restarted with backoff, in one line each time; one that
keeps failing stops the runner, which names it, says why and shows the end of its log."""

from __future__ import annotations

import os
import sys

from services.cli.runner import GIVE_UP_FAILURES, Supervised, _supervise
from services.cli.settings import SystemSettings


def test_a_process_that_keeps_failing_stops_everything_naming_it_with_the_end_of_its_log(tmp_path, capsys):
    flaky = Supervised("flaky", [sys.executable, "-c", "print('cannot open the database'); raise SystemExit(3)"],
                       dict(os.environ), tmp_path / "flaky.log", echo=False, backoff=0.01)
    flaky.start()
    assert _supervise(SystemSettings(data_dir=tmp_path), [flaky], lambda: False, embedded=False) == 1

    said = capsys.readouterr().err.splitlines()
    restarts = [line for line in said if "restarting" in line]
    assert restarts == [f"flaky exited (code 3); restarting in {0.01 * 2 ** n:g} s" for n in range(GIVE_UP_FAILURES - 1)]
    assert f"flaky exited (code 3), its {GIVE_UP_FAILURES}th failure within 120 s; stopping everything" in said[len(restarts)]
    assert "cannot open the database" in said[-1]


def test_the_backoff_starts_again_after_a_minute_of_health(tmp_path):
    unit = Supervised("steady", [sys.executable, "-c", "pass"], dict(os.environ), tmp_path / "steady.log",
                      echo=False, backoff=8.0)
    unit.start()
    unit.process.wait()
    unit.started_at -= 61
    assert unit.exited(unit.started_at + 61.5)
    assert unit.backoff == 0.5 and unit.last_exit == "code 0"
