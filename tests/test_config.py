"""Profiles, devices and frozen configs: bad parameters fail at the top with a clear message."""

from dataclasses import dataclass, FrozenInstanceError
from typing import ClassVar

import pytest
import torch

from fwilab.config import ExperimentConfig, resolve_device


@dataclass(frozen=True)
class ToyConfig(ExperimentConfig):
    CHAPTER: ClassVar[str] = "toy"
    n: int = 1
    families: tuple = ("a",)
    PRESETS: ClassVar[dict] = {"smoke": {"n": 2}, "cpu": {"n": 20}, "full": {"n": 200}}

    def validate(self):
        if self.n < 1:
            raise ValueError(f"n must be >= 1, got {self.n}")


def test_presets_differ_by_size_only():
    assert [ToyConfig.preset(p).n for p in ("smoke", "cpu", "full")] == [2, 20, 200]


@pytest.mark.parametrize("bad, message", [
    (dict(profile="huge"), "unknown profile 'huge'"),
    (dict(profile="smoke", device="tpu"), "unknown device 'tpu'"),
    (dict(profile="smoke", seed=-1), "seed must be a non-negative integer"),
    (dict(profile="smoke", n=0), "n must be >= 1"),
    (dict(profile="smoke", nope=1), "has no parameter"),
])
def test_bad_parameters_fail_clearly(bad, message):
    with pytest.raises(ValueError, match=message):
        ToyConfig.preset(**bad)


def test_config_is_frozen_and_lists_become_tuples():
    cfg = ToyConfig.preset("smoke", families=["x", "y"])
    assert cfg.families == ("x", "y")
    with pytest.raises(FrozenInstanceError):
        cfg.n = 3


def test_hash_ignores_execution_fields_but_not_science():
    a = ToyConfig.preset("smoke", device="cpu", recompute=False, results_dir="a")
    b = ToyConfig.preset("smoke", device="auto", recompute=True, results_dir="b")
    assert a.config_hash == b.config_hash
    assert a.config_hash != ToyConfig.preset("smoke", seed=1).config_hash
    assert a.config_hash != ToyConfig.preset("smoke", n=3).config_hash
    assert a.config_hash != ToyConfig.preset("cpu").config_hash


def test_cuda_request_without_gpu_is_refused():
    if torch.cuda.is_available():
        assert resolve_device("cuda").type == "cuda"
    else:
        with pytest.raises(ValueError, match="no CUDA GPU is available"):
            resolve_device("cuda")
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda")


def test_piece_hash_ignores_scope_fields_only():
    @dataclass(frozen=True)
    class Scoped(ToyConfig):
        SCOPE_FIELDS: ClassVar[frozenset] = frozenset({"families"})

    a, b = Scoped.preset("smoke", families=("a",)), Scoped.preset("smoke", families=("a", "b"))
    assert a.piece_hash == b.piece_hash and a.config_hash != b.config_hash
    assert a.piece_hash != Scoped.preset("smoke", n=5).piece_hash


def test_a_single_string_for_a_tuple_field_is_one_element():
    assert ToyConfig.preset("smoke", families="flatvel-a").families == ("flatvel-a",)


def test_piece_hash_without_unrelated_fields():
    a, b = ToyConfig.preset("smoke", n=2), ToyConfig.preset("smoke", n=3)
    assert a.piece_hash != b.piece_hash
    assert a.piece_hash_without({"n"}) == b.piece_hash_without({"n"})


@dataclass(frozen=True)
class TypedConfig(ExperimentConfig):
    CHAPTER: ClassVar[str] = "typed"
    n: int = 1
    lr: float = 1e-3
    alpha: float | None = None
    flag: bool = True
    names: tuple[str, ...] = ("a",)
    sizes: tuple[int, ...] = (1, 2)


@pytest.mark.parametrize("given, expected", [
    (dict(n="8"), dict(n=8)), (dict(n=8.0), dict(n=8)), (dict(lr="0.01"), dict(lr=0.01)),
    (dict(lr=1), dict(lr=1.0)),                    # a whole number for a float field is a float: one hash
    (dict(alpha="none"), dict(alpha=None)), (dict(alpha="2"), dict(alpha=2.0)),
    (dict(flag="false"), dict(flag=False)), (dict(flag="True"), dict(flag=True)),
    (dict(names="x,y"), dict(names=("x", "y"))), (dict(names="['x', 'y']"), dict(names=("x", "y"))),
    (dict(names=["x"]), dict(names=("x",))), (dict(sizes="3,4"), dict(sizes=(3, 4))),
    (dict(sizes="[3, 4]"), dict(sizes=(3, 4))),
    (dict(results_dir=__import__("pathlib").Path("r")), dict(results_dir="r")),
    (dict(device=torch.device("cpu")), dict(device="cpu")),
])
def test_strings_from_the_command_line_or_papermill_become_the_fields_types(given, expected):
    cfg = TypedConfig.preset("smoke", **given)
    for key, value in expected.items():
        assert getattr(cfg, key) == value and type(getattr(cfg, key)) is type(value)


@pytest.mark.parametrize("given, message", [
    (dict(n="abc"), "n must be an integer, got 'abc'"), (dict(n=2.5), "n must be an integer, got 2.5"),
    (dict(n=True), "n must be an integer"), (dict(lr="fast"), "lr must be a number, got 'fast'"),
    (dict(flag="maybe"), "flag must be true or false"), (dict(names=3), "names must be a list of strings"),
    (dict(sizes="a,b"), "sizes must be a list of integers"), (dict(sizes="[1, 2"), "sizes must be a list"),
])
def test_a_value_of_the_wrong_type_is_named(given, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        TypedConfig.preset("smoke", **given)


def test_the_data_source_fields_keep_old_hashes_and_are_not_overrides():
    """openfwi_dir=None, maps="generated" and decimate=1 stay out of the identity, so every hash is what it
    was before the fields existed; real files are another experiment (hash) at the same size (not an
    override of the preset)."""
    from fwilab.experiments import make_config

    generated = make_config("routing", "smoke")
    ident = generated.identity()
    assert not {"openfwi_dir", "maps", "decimate"} & set(ident)
    assert generated.data_source == "generated OpenFWI-like data"
    real = make_config("routing", "smoke", openfwi_dir="/data/openfwi")
    assert real.config_hash != generated.config_hash and real.piece_hash != generated.piece_hash
    assert real.preset_overrides() == {} and "real OpenFWI files under /data/openfwi" in real.data_source
    assert make_config("routing", "smoke", n_seeds=2).preset_overrides() == {"n_seeds": (1, 2)}
    shipped = make_config("routing", "cpu")   # the cpu preset reads the shipped real maps, decimated
    assert {"maps", "decimate"} <= set(shipped.identity()) and shipped.model_acquisition.nt == 250


def test_baselines_cpu_reads_real_maps_decimated():
    from fwilab.experiments import make_config

    cpu = make_config("baselines", "cpu")
    assert (cpu.maps, cpu.decimate, cpu.data_nt) == ("real", 4, 250)
    assert "real OpenFWI velocity maps" in cpu.data_source and "decimated ×4" in cpu.data_source
    with pytest.raises(ValueError, match="unknown maps 'web'"):
        make_config("baselines", "cpu", maps="web")
    with pytest.raises(ValueError, match="decimation factor must be an integer >= 1"):
        make_config("baselines", "cpu", decimate=0)


def test_a_whole_number_for_a_float_field_is_the_same_experiment():
    from fwilab.experiments import make_config

    preset = make_config("baselines", "cpu")
    given = make_config("baselines", "cpu", fwi_smooth_cells=10, lr="0.002")
    assert given.fwi_smooth_cells == 10.0 and isinstance(given.fwi_smooth_cells, float)
    assert given.config_hash == preset.config_hash and given.preset_overrides() == {}
