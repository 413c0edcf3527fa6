"""Study defaults: declared once (cohortflow/core/defaults.py), typed, and the schema's
defaults and the README's study reference generated from them."""

import json
from dataclasses import fields

import pytest

from cohortflow.core import defaults
from cohortflow.core.config import load_study
from cohortflow.core.defaults import Analysis, CoxModel, InductionFailure, Study, Swimmer


def test_readme_study_reference_is_generated():
    assert defaults.README.read_text(encoding="utf-8") == defaults.readme_text(), (
        "README's study reference is stale: run `python -m cohortflow.core.defaults --readme`"
    )


def test_schema_defaults_are_generated():
    assert defaults.STUDY_SCHEMA.read_text(encoding="utf-8") == defaults.schema_text(), (
        "schemas/study.schema.json defaults are stale: run "
        "`python -m cohortflow.core.defaults --schema`"
    )


def test_every_setting_has_a_description_and_a_schema_property():
    schema = json.loads(defaults.STUDY_SCHEMA.read_text(encoding="utf-8"))
    for section in defaults.SECTIONS:
        for f in fields(section):
            assert f.metadata["description"], f"{section.__name__}.{f.name}"
            node = defaults._schema_node(schema, f"{section.PATH}.{f.metadata['key'] or f.name}")
            assert node.get("description"), f"{section.__name__}.{f.name}"


def test_absent_settings_take_their_defaults_and_written_ones_win():
    a = Analysis.of({"id": "x", "endpoint": "OS", "title": "t", "ci_method": "plain"})
    assert a.ci_method == "plain"
    assert a.time_points_years == [1, 3, 5] and a.time_unit == "months" and a.by == ""
    assert Analysis.of(None) == Analysis.of({})
    assert CoxModel.of({}).min_events_per_parameter == 5 and CoxModel.of({}).ties == "efron"
    assert Swimmer.of({"max_patients": 7}).max_patients == 7
    assert InductionFailure.of({"expr": "x"}).at_day == 0
    s = Study.of({"validation": {"policy": "strict"}, "pseudonymisation": {}})
    assert s.validation_policy == "strict" and s.demo_key is False and s.identifiers == "remove"


def test_list_defaults_are_not_shared_between_views():
    first = Analysis.of({})
    first.time_points_years.append(99)
    assert Analysis.of({}).time_points_years == [1, 3, 5]


@pytest.mark.parametrize("nasty", [{"validation": "strict"}, {"validation": None}])
def test_a_malformed_parent_gives_the_default_not_a_crash(nasty):
    # (the schema refuses these; a hand-built dict in a test or a caller must not crash here)
    assert Study.of(nasty).validation_policy == "quarantine"


def test_views_leave_the_study_definition_as_written():
    study = load_study("infant_all")
    before = json.dumps(study, sort_keys=True, default=str)
    for a in study["analyses"]:
        Analysis.of(a)
    Study.of(study)
    assert json.dumps(study, sort_keys=True, default=str) == before
    assert "ci_method" not in study["analyses"][0]  # defaults are not filled into the dict
