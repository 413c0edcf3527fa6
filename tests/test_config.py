"""Config files are checked against their JSON schemas, every violation reported."""

import copy

import pytest

from cohortflow.config import REPO_ROOT, load_yaml, validate
from cohortflow.errors import CohortflowError


def _study():
    return load_yaml(REPO_ROOT / "config/studies/rr_all.yaml")


def test_bundled_study_is_valid():
    assert validate(_study(), "study", "rr_all.yaml")["cutoff_date"] == "2016-12-31"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(cutoff_date="2016-13-45"), "is not a 'date'"),
        (lambda d: d.pop("endpoints"), "'endpoints' is a required property"),
        (lambda d: d["validation"].update(policy="lenient"), "lenient"),
    ],
)
def test_invalid_study_is_refused_with_its_location(change, message):
    d = copy.deepcopy(_study())
    change(d)
    with pytest.raises(CohortflowError, match="does not match schemas/study.schema.json") as exc:
        validate(d, "study", "rr_all.yaml")
    assert message in str(exc.value)
