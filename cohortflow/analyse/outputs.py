"""Names and schemas of the analyse stage's outputs that ``render/`` reads.

Only constants: no computation and no import of ``stats/``, so ``render/`` can name what it
reads without depending on how it was estimated (``tests/test_layers.py`` checks that
``render/`` reaches no ``stats/`` module).
"""

from __future__ import annotations

#: tests.csv ``test`` of the row (no statistic, a note) warning per stratum that delayed entry
#: leaves fewer than ``survmethods.MIN_AT_RISK`` at risk where an estimate is printed.
SMALL_RISK_SET_TEST = "delayed entry: small risk sets"

#: The Simon-Makuch at-risk table covers at least these years (the figure's default axis).
AT_RISK_MIN_YEARS = 8

#: ``analyse/curves.parquet``: every Kaplan-Meier and cumulative-incidence curve a figure
#: draws, in drawing order. One curve is keyed by ``analysis`` (a configured analysis ID, a
#: derived landmark analysis ``<analysis>_landmark_<L>m`` or a cumulative-incidence analysis
#: ID), ``kind`` (``km``: Kaplan-Meier survival; ``cif``: Aalen-Johansen cumulative incidence),
#: ``group`` (the stratum label, ``All`` without a grouping, ``exposed``/``unexposed`` for a
#: landmark) and ``cause`` (1 the event, 2 the competing event; <NA> for ``km``), with ``n``
#: patients and ``events`` events of the curve's kind and cause. ``row`` says what a row is:
#:
#: * ``step``: one row per distinct time of the estimator's table (time 0 first): ``time``
#:   (days), ``n_risk``, ``n_event``, ``n_censor`` (censor marks), ``estimate`` (survival or
#:   cumulative incidence) and its pointwise 95% ``lower``/``upper`` limits (the analysis's
#:   ``ci_method``);
#: * ``at_risk``: the number under observation (entered by then, with delayed entry) at the
#:   whole years ``time`` = 0, 365.25, 730.5, ... days, up to the first year after the group's
#:   last follow-up (0 there, and at any later year a figure's axis reaches); for ``cif`` one
#:   row set per group (``cause`` <NA>); the other counts and the estimates <NA>.
CURVE_COLUMNS = [
    "analysis",
    "kind",
    "group",
    "cause",
    "n",
    "events",
    "row",
    "time",
    "n_risk",
    "n_event",
    "n_censor",
    "estimate",
    "lower",
    "upper",
]
