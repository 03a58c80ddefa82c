"""Progress per phase: a named bar on stderr when the run's progress setting is on, nothing
at all when it is off."""

from chanpos.runs.progress import phase


def test_a_phase_bar_shows_its_name_and_count_only_when_on(capsys) -> None:
    with phase("readouts", 3, False) as bar:
        for _ in range(3):
            bar.step()
    assert capsys.readouterr().err == ""
    with phase("readouts", 3, True, "readout") as bar:
        for _ in range(2):
            bar.step()
        bar.to(3)
        assert bar.done == 3
    err = capsys.readouterr().err
    assert "readouts:" in err and "/3" in err and "readout" in err


def test_a_phase_of_nothing_shows_no_bar(capsys) -> None:
    with phase("curve", 0, True) as bar:
        bar.step()
    assert capsys.readouterr().err == ""
