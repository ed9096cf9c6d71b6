"""Profiles, devices and the frozen experiment configs every chapter builds from its parameters.

A chapter's ``parameters`` cell holds literals only; the next cell calls
``Config.preset(profile, **overrides)``, which validates everything and fails with a clear
``ValueError`` at the top of the notebook rather than deep inside a run.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import hashlib
import json
import os
import types
import typing
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Iterable

import torch

from .devices import DEVICES, device_name, resolve_device  # noqa: F401  (re-exported: the config API)

#: smoke: seconds on a CPU (tests, CI); cpu: minutes per chapter on 2 cores; full: the published GPU run.
PROFILES: tuple[str, ...] = ("smoke", "cpu", "full")

#: Fields that describe *where/how* a run is executed, not *what* it computes: they are recorded
#: in the provenance but left out of the config hash, so a CPU artifact is reused on a GPU machine.
EXECUTION_FIELDS: frozenset[str] = frozenset({"device", "recompute", "results_dir", "progress"})

#: Optional fields left out of the config hash while they hold this default, so that adding one kept
#: the hash of every artifact and piece made before it (``openfwi_dir``: None = generated data).
HASH_NEUTRAL_DEFAULTS: dict[str, Any] = {"openfwi_dir": None, "maps": "generated", "decimate": 1,
                                         "compile": False, "calibration_families": None}


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}")
    return profile


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in fields(value)}
    return value


_TYPE_WORDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def _scalar(name: str, value: Any, kind: type, what: str) -> Any:
    """``value`` as ``kind`` (int, float, bool or str), converting a string (from the command line or
    papermill); a valid non-string value is returned unchanged, so the config hash stays the same, except
    that a whole number for a float field becomes a float (``--set lr=1`` and a preset's ``1.0`` are one
    experiment, with one hash).

    Hand-written rather than pydantic's ``TypeAdapter``: pydantic's lax mode accepts ``True`` for an
    integer and ``1``/``0`` for a boolean (named errors here), refuses a ``Path`` or ``torch.device`` for a
    string, and has no comma-list or Python-literal parsing for papermill's and ``--set``'s strings, so a
    wrapper keeping these rules and the messages would be as long as this code."""
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.strip().lower() in ("true", "1", "yes")
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
    elif kind is float:
        if isinstance(value, float):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
    elif isinstance(value, kind):
        return value
    elif kind is str and isinstance(value, (os.PathLike, torch.device)):   # results_dir=Path(...), a device
        return str(value)
    raise ValueError(f"{name} must be {what}, got {value!r}")


def _coerce(name: str, value: Any, hint: Any) -> Any:
    """Check ``value`` against a config field's type ``hint`` (int, float, bool, str, tuple[T, ...],
    each optionally ``| None``); strings are parsed: ``"8"``, ``"true"``, ``"a,b"`` or ``"['a', 'b']"``."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "null")):
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) != 1:
            return value
        hint = options[0]
        args = typing.get_args(hint)
    if hint is tuple or typing.get_origin(hint) is tuple:
        kind = args[0] if args and args[0] in _TYPE_WORDS else None
        what = (f"a list of {_TYPE_WORDS[kind].removeprefix('an ').removeprefix('a ')}s" if kind is not None
                else "a list")
        if isinstance(value, str):
            text = value.strip()
            if text.startswith(("[", "(")):
                try:
                    value = ast.literal_eval(text)
                except (ValueError, SyntaxError):
                    raise ValueError(f"{name} must be {what}, got {value!r}") from None
            else:
                value = [t.strip() for t in text.split(",") if t.strip()]
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{name} must be {what}, got {value!r}")
        return tuple(v if kind is None else _scalar(name, v, kind, what) for v in value)
    if hint in _TYPE_WORDS:
        return _scalar(name, value, hint, _TYPE_WORDS[hint])
    return value


@functools.cache
def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


@dataclass(frozen=True)
class ExperimentConfig:
    """Base for a chapter's frozen config: profile, device, seed and where results go.

    Subclasses add their own fields (all with defaults) and a ``PRESETS`` mapping from profile to
    the field values that differ between sizes; ``preset(profile, **overrides)`` builds one.
    """

    profile: str = "smoke"
    device: str = "auto"
    seed: int = 0
    recompute: bool = False
    results_dir: str = "results"

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {}
    CHAPTER: ClassVar[str] = ""
    #: fields that choose *which* pieces a run has (families, number of seeds), not how each piece is
    #: computed: left out of :attr:`piece_hash`, so adding a family reuses the pieces already done
    SCOPE_FIELDS: ClassVar[frozenset[str]] = frozenset()

    def __post_init__(self) -> None:
        # every field has its declared type before any check: "abc" for an integer is named here,
        # not met as a TypeError inside a comparison (strings from the CLI or papermill are parsed)
        hints = _field_types(type(self))
        for f in fields(self):
            value = getattr(self, f.name)
            coerced = _coerce(f.name, value, hints[f.name])
            if f.name in HASH_NEUTRAL_DEFAULTS and coerced == "":   # an empty path: the default
                coerced = HASH_NEUTRAL_DEFAULTS[f.name]
            if coerced is not value:
                object.__setattr__(self, f.name, coerced)
        check_profile(self.profile)
        if self.device not in DEVICES and not self.device.startswith("cuda:"):
            raise ValueError(f"unknown device {self.device!r}: choose one of {', '.join(DEVICES)}")
        if self.seed < 0:   # an integer by now (__post_init__'s type check)
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        self.validate()

    def validate(self) -> None:
        """Chapter-specific checks; raise ``ValueError`` with a message naming the bad field."""

    @classmethod
    def preset(cls, profile: str, **overrides: Any):
        check_profile(profile)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"{cls.__name__} has no parameter(s) {unknown}; known: {sorted(known)}")
        values = dict(cls.PRESETS.get(profile, {}))
        values.update({k: v for k, v in overrides.items() if v is not None})
        # lists from papermill/JSON become tuples (the config stays hashable and frozen), and strings
        # are parsed by field type in __post_init__ (``--set families=flatvel-a,curvevel-a``)
        return cls(profile=profile, **values)

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(self)

    def identity(self) -> dict[str, Any]:
        """What the run computes: the config less execution-only fields (and optional fields at
        their :data:`HASH_NEUTRAL_DEFAULTS`)."""
        return {k: v for k, v in self.to_dict().items() if k not in EXECUTION_FIELDS
                and not (k in HASH_NEUTRAL_DEFAULTS and v == HASH_NEUTRAL_DEFAULTS[k])}

    def preset_overrides(self) -> dict[str, tuple[Any, Any]]:
        """``{field: (preset value, this config's value)}`` for every field that differs from the
        profile's preset, execution fields aside, and the seed and the data source (another seed, or
        the real OpenFWI files instead of generated ones, is the same experiment at the same size)."""
        preset = type(self).preset(self.profile).identity()
        return {k: (preset.get(k), v) for k, v in self.identity().items()
                if k not in ("seed", "openfwi_dir") and preset.get(k) != v}

    @property
    def config_hash(self) -> str:
        blob = json.dumps({"chapter": self.CHAPTER, **self.identity()}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @property
    def piece_hash(self) -> str:
        """Hash of what one piece computes: the config less execution and scope fields."""
        return self.piece_hash_without(())

    def piece_hash_without(self, unrelated: Iterable[str]) -> str:
        """:attr:`piece_hash` also leaving out fields a kind of piece does not depend on (e.g. the
        classic-FWI settings for a training run), so changing them keeps the other pieces."""
        skip = self.SCOPE_FIELDS | frozenset(unrelated)
        ident = {k: v for k, v in self.identity().items() if k not in skip}
        blob = json.dumps({"chapter": self.CHAPTER, **ident}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @property
    def torch_device(self) -> torch.device:
        return resolve_device(self.device)


@dataclass(frozen=True)
class OpenFWIFilesMixin:
    """For chapter configs that train on a family's splits: where the real OpenFWI files are.

    Attributes:
        openfwi_dir: a folder holding one sub-folder per OpenFWI dataset, named as OpenFWI names them
            (``FlatVel_A``) or as we do (``flatvel-a``), each in either OpenFWI layout
            (:mod:`fwilab.data.openfwi`). ``None`` (the default): data generated here. With real files
            the training and validation samples come from OpenFWI's train split and the test samples
            from its test split (:func:`fwilab.data.splits.load_family_splits`); ``seed`` then seeds
            the training only. A relative path is taken from the current folder on the command line
            (which records it absolute) and from the project root in a chapter's notebook
            (:func:`fwilab.book.project_path`). The hash records the path, not the files: replacing
            the files under the same path needs ``recompute``.
        maps: "real": FlatVel-A and CurveVel-A train and test on the real OpenFWI velocity maps shipped
            with the package, forward-modelled here on OpenFWI's convention (train / validation from
            OpenFWI's train maps, test from its 1,000 test maps); every other family, and "generated",
            uses the calibrated generators (:func:`fwilab.data.splits.map_source`).
        decimate: the networks read records anti-aliased and decimated ×``decimate`` in time
            (:func:`fwilab.data.transforms.decimate_time`; 4: nt 1000 → 250). Classic FWI always
            inverts the full-rate records.
    """

    openfwi_dir: str | None = None
    maps: str = "generated"
    decimate: int = 1

    #: whether the chapter's models read decimated records (the others refuse ``decimate`` > 1)
    SUPPORTS_DECIMATION: ClassVar[bool] = False

    def validate_data_fields(self) -> None:
        if self.maps not in ("generated", "real"):
            raise ValueError(f"unknown maps {self.maps!r}: choose 'generated' or 'real'")
        if self.decimate < 1:   # an integer by now (__post_init__'s type check)
            raise ValueError(f"decimation factor must be an integer >= 1, got {self.decimate!r}")
        if self.decimate != 1 and not self.SUPPORTS_DECIMATION:
            raise ValueError(f"the {self.CHAPTER} chapter's models read full-rate records: decimate must be 1, "
                             f"got {self.decimate}")
        if self.decimate > 1 and self.nt < 2 * self.decimate:
            raise ValueError(f"decimate {self.decimate} needs nt >= {2 * self.decimate}, got nt = {self.nt}")

    def split_options(self) -> dict[str, Any]:
        """Keyword arguments of :func:`fwilab.data.splits.load_family_splits` for this config."""
        return dict(seed=self.seed, acquisition=self.acquisition, device=self.device, progress=self.progress,
                    openfwi_dir=self.openfwi_dir, maps=self.maps, decimate=self.decimate)

    @property
    def data_nt(self) -> int:
        """Time samples of the records the networks read: ``ceil(nt / decimate)``
        (:func:`fwilab.data.transforms.decimated_length`)."""
        return -(-self.nt // self.decimate)

    @property
    def model_acquisition(self):
        """The survey (``self.acquisition``, from :class:`SurveyMixin`) as the networks read it: its ``nt``
        after ×``decimate`` decimation."""
        acq = self.acquisition
        return acq.replace(nt=-(-acq.nt // self.decimate))

    @property
    def data_source(self) -> str:
        """How the claims' settings name the data: generated, or the real files."""
        rate = (f", records decimated ×{self.decimate} in time (nt {self.nt} → {self.data_nt})"
                if self.decimate > 1 else "")
        if self.openfwi_dir is not None:
            return f"the real OpenFWI files under {self.openfwi_dir}{rate}"
        if self.maps == "real":
            return ("real OpenFWI velocity maps (FlatVel-A, CurveVel-A; OpenFWI's test maps score) forward-modelled "
                    f"here on OpenFWI's convention, generated maps for the other families{rate}")
        return f"generated OpenFWI-like data{rate}"


class SurveyMixin:
    """For chapter configs with ``nt`` and ``nbc`` fields (and ``n_seeds`` where runs are repeated):
    the OpenFWI survey at those sizes, and the training seeds ``seed, seed + 1, …``."""

    @property
    def acquisition(self):
        from .physics.acquisition import OPENFWI

        return OPENFWI.replace(nt=self.nt, nbc=self.nbc)

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(self.seed + k for k in range(self.n_seeds))
