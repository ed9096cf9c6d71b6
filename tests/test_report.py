"""The numbers a chapter prints: a mean over seeds with its spread, and durations."""

import pytest

from fwilab.report import pm, seconds


@pytest.mark.parametrize("mean, std, n, spec, expected", [
    (0.12345, 0.01, 3, ".4f", "0.1235 ± 0.0100"),
    (0.12345, 0.0, 1, ".4f", "0.1235 (1 seed)"),   # one seed: no spread, not "± 0.0000"
    (42.0, 0.0, 2, ".1f", "42.0 ± 0.0"),           # two equal seeds: a measured spread of zero
    (42.0, 3.0, 0, ".1f", "– (no seeds)"),
])
def test_pm(mean, std, n, spec, expected):
    assert pm(mean, std, n, spec) == expected


@pytest.mark.parametrize("s, expected", [(1.23e-5, "0.0123 ms"), (0.000123, "0.123 ms"), (0.4, "400 ms"),
                                         (1.0, "1 s"), (12.345, "12.3 s"), (99.94, "99.9 s"), (1234.4, "1234 s")])
def test_seconds(s, expected):
    assert seconds(s) == expected
