"""Progress bars obey TQDM_DISABLE, which the book sets while chapters execute."""

from fwilab.progress import bar


def test_the_environment_switches_bars_off_even_when_a_call_enables_them(monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    assert not bar(range(3), enabled=True).disable
    assert bar(range(3), enabled=False).disable
    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert bar(range(3), enabled=True).disable


class _Terminal:
    def __init__(self, tty):
        self.tty, self.text = tty, []

    def isatty(self):
        return self.tty

    def write(self, text):
        self.text.append(text)

    def flush(self):
        pass


def test_transient_bars_show_on_a_terminal_only(monkeypatch):
    """A leave=False bar written to a pipe or log cannot be erased: it used to leave "0%" lines behind."""
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    log, terminal = _Terminal(False), _Terminal(True)
    assert bar(range(3), leave=False, file=log).disable
    assert not bar(range(3), leave=False, file=terminal).disable
    assert not bar(range(3), file=log).disable          # a bar that stays is shown in a log too
    monkeypatch.setattr("sys.stderr", log)             # tqdm's default stream
    assert bar(range(3), leave=False).disable
    monkeypatch.setattr("sys.stderr", terminal)
    assert not bar(range(3), leave=False).disable
    quiet = _Terminal(False)
    for _ in bar(range(3), leave=False, file=quiet):
        pass
    assert quiet.text == []
