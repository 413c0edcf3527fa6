"""run_stage's arguments: a stage function's parameters filled from the rule by name."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from snakemake.iocontainers import Namedlist

from cohortflow.core.runner import stage_arguments


def _smk(**parts: dict[str, Any]) -> SimpleNamespace:
    return SimpleNamespace(
        **{
            p: Namedlist(fromdict=parts.get(p, {}))
            for p in ("input", "output", "params", "wildcards")
        }
    )


def _stage(patients: str, sites: list[str], out: str, label: str = "", key: bytes | None = None):
    return None


def test_parameters_are_filled_by_name_and_overrides_win() -> None:
    smk = _smk(
        input={"patients": "p.parquet", "sites": ["a.parquet", "b.parquet"], "unused": "u"},
        output={"out": "o.csv"},
        params={"label": "demo", "code": "hash"},
    )
    kw = stage_arguments(smk, _stage)
    assert kw == {
        "patients": "p.parquet",
        "sites": ["a.parquet", "b.parquet"],
        "out": "o.csv",
        "label": "demo",
    }
    assert type(kw["sites"]) is list  # a plain list, not Snakemake's Namedlist
    assert stage_arguments(smk, _stage, out="x.csv", key=b"k")["out"] == "x.csv"


def test_a_name_in_two_parts_comes_from_the_first() -> None:
    # a study's slice in params and its name as a wildcard: the stage gets the slice
    smk = _smk(params={"patients": {"id": "rr_all"}}, wildcards={"patients": "rr_all"})
    assert stage_arguments(smk, _stage)["patients"] == {"id": "rr_all"}
    assert stage_arguments(smk, _stage, patients="x")["patients"] == "x"
    smk = _smk(input={"out": "in.csv"}, output={"out": "out.csv"}, wildcards={"label": "w"})
    assert stage_arguments(smk, _stage) == {"out": "in.csv", "label": "w"}


def test_a_missing_required_parameter_is_left_to_the_call() -> None:
    kw = stage_arguments(_smk(input={"patients": "p"}), _stage)
    assert "sites" not in kw and "out" not in kw
    with pytest.raises(TypeError):
        _stage(**kw)
