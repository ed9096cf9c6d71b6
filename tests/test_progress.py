"""Progress bars obey TQDM_DISABLE, which the book sets while chapters execute."""

from fwilab.progress import bar


def test_the_environment_switches_bars_off_even_when_a_call_enables_them(monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    assert not bar(range(3), enabled=True).disable
    assert bar(range(3), enabled=False).disable
    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert bar(range(3), enabled=True).disable
