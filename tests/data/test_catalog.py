"""The table of family facts: one value per family, gathered from the modules that own each fact."""

import pytest

from fwilab.data.catalog import catalog, family
from fwilab.data.families import FAMILIES
from fwilab.data.normalize import DATA_RANGE, dataset_name


def test_every_family_once_in_openfwi_order():
    assert [f.name for f in catalog()] == list(FAMILIES)


@pytest.mark.parametrize("name, openfwi, kind, layout, sizes", [
    ("flatvel-a", "FlatVel_A", "vel", "vel", (24000, 6000)),
    ("curvefault-b", "CurveFault_B", "fault", "fault", (48000, 6000)),
    ("style-a", "Style_A", "style", "vel", (60000, 7000)),
])
def test_facts(name, openfwi, kind, layout, sizes):
    f = family(name.upper().replace("-", "_"))          # any spelling resolves once
    assert (f.name, f.openfwi_name, f.kind, f.layout) == (name, openfwi, kind, layout)
    assert (f.openfwi_train, f.openfwi_test) == sizes and f.data_range == DATA_RANGE[name]
    assert dataset_name(f.openfwi_name) == name


def test_real_maps_and_calibration():
    assert family("flatvel-a").has_real_pairs and dict(family("curvevel-a").real_splits) == {"train": 5000, "test": 1000}
    ff = family("flatfault-a")
    assert not ff.has_real_pairs and dict(ff.real_splits) == {"test": 500} and ff.calibration == "real maps"
    assert family("style-b").calibration == "OpenFWI's description" and family("style-b").real_splits == ()
    assert family("flatvel-a") is family("FlatVel-A")   # a value, resolved once


def test_unknown_family_is_named():
    with pytest.raises(ValueError, match="unknown velocity family"):
        family("flatvel-z")


def test_cli_prints_the_table(capsys):
    from fwilab.cli import main

    assert main(["data", "families"]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 10 and "FlatFault_A" in out and "real maps: test 500" in out
