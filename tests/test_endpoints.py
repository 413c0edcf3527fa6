"""ADTTE derivation on hand-built patients whose times are worked out here."""

import pandas as pd

from cohortflow.analyse.endpoints import derive

EFS = {
    "label": "Event-free survival",
    "origin": "diagnosis_date",
    "events": [
        {"source": "relapse_date", "description": "Relapse"},
        {"source": "death_date", "description": "Death"},
    ],
    "censor": "last_followup_date",
}

#: overall survival from R/R diagnosis (tests replace the origin)
OS = {
    "label": "Overall survival",
    "origin": "rr_diagnosis_date",
    "events": [{"source": "death_date", "description": "Death"}],
    "censor": "last_followup_date",
}


def test_efs_rows():
    df = pd.DataFrame(
        {
            "study_id": ["a", "b", "c", "d", "e"],
            "site": "X",
            "diagnosis_date": pd.to_datetime(
                ["2000-01-01", "2000-01-01", "2000-01-01", None, "2000-01-01"]
            ),
            "relapse_date": pd.to_datetime(["2000-03-01", None, None, None, "2012-01-01"]),
            "death_date": pd.to_datetime(["2000-02-01", "2001-01-01", None, None, None]),
            "last_followup_date": pd.to_datetime(
                ["2000-02-01", "2001-01-01", "2000-12-31", "2005-01-01", "2012-06-01"]
            ),
        }
    )
    out = derive(df, "EFS", EFS, "2010-12-31").set_index("study_id")
    # a: death (31 days) precedes relapse (60 days) -> event at 31 days, described as death
    assert out.loc["a", "AVAL"] == 31 and out.loc["a", "CNSR"] == 0
    assert out.loc["a", "EVNTDESC"] == "Death"
    # b: death 2001-01-01 = 366 days (2000 is a leap year)
    assert out.loc["b", "AVAL"] == 366 and out.loc["b", "CNSR"] == 0
    # c: censored at last follow-up, 365 days
    assert out.loc["c", "AVAL"] == 365 and out.loc["c", "CNSR"] == 1
    # d: no origin -> no time, reason given
    assert pd.isna(out.loc["d", "AVAL"]) and out.loc["d", "CNSDTDSC"] == "no diagnosis_date"
    # e: relapse after the cut-off is not counted; censored at the cut-off (4017 days)
    assert out.loc["e", "CNSR"] == 2 and out.loc["e", "AVAL"] == 4017


def _pts(**cols):
    n = len(next(iter(cols.values())))
    base = {"study_id": [f"p{i}" for i in range(n)], "site": ["X"] * n}
    return pd.DataFrame(
        {**base, **{k: (pd.to_datetime(v) if k.endswith("date") else v) for k, v in cols.items()}}
    )


def test_efs_induction_failure_at_day_zero():
    ep = dict(EFS, induction_failure={"expr": "induction_response == 'refractory'"})
    df = _pts(
        diagnosis_date=["2000-01-01"] * 3,
        relapse_date=[None, "2000-06-01", None],
        death_date=["2000-03-01", None, None],
        last_followup_date=["2000-03-01", "2001-01-01", "2001-01-01"],
        induction_response=["refractory", "CR", None],
    )
    out = derive(df, "EFS", ep, "2010-12-31").set_index("study_id")
    # p0: refractory -> event at day 0 even though death followed at day 60
    assert out.loc["p0", "AVAL"] == 0 and out.loc["p0", "CNSR"] == 0
    assert out.loc["p0", "EVNTDESC"] == "Induction failure (assigned day 0)"
    assert out.loc["p1", "AVAL"] == 152 and out.loc["p1", "EVNTDESC"] == "Relapse"
    # p2: response unknown -> not an induction failure; censored at 366 days
    assert out.loc["p2", "AVAL"] == 366 and out.loc["p2", "CNSR"] == 1
    at_day = dict(
        EFS, induction_failure={"expr": "induction_response == 'refractory'", "at_day": 35}
    )
    assert derive(df, "EFS", at_day, "2010-12-31")["AVAL"].iloc[0] == 35


def test_rfs_from_cr_date():
    rfs = {
        "label": "Relapse-free survival",
        "origin": "cr_date",
        "events": [
            {"source": "relapse_date", "description": "Relapse"},
            {"source": "death_date", "description": "Death"},
        ],
        "censor": "last_followup_date",
    }
    df = _pts(
        cr_date=["2000-02-01", None],
        relapse_date=["2000-03-02", None],
        death_date=[None, None],
        last_followup_date=["2001-01-01", "2001-01-01"],
    )
    out = derive(df, "RFS", rfs, "2010-12-31")
    assert out["AVAL"].iloc[0] == 30 and out["CNSR"].iloc[0] == 0
    assert pd.isna(out["AVAL"].iloc[1]) and out["CNSDTDSC"].iloc[1] == "no cr_date"


def test_relapse_with_nrm_as_competing_event_from_hsct():
    rel = {
        "label": "Relapse after HSCT",
        "origin": "hsct_date",
        "events": [{"source": "relapse_date", "description": "Relapse"}],
        "competing": [{"source": "death_date", "description": "Non-relapse mortality"}],
        "censor": "last_followup_date",
    }
    df = _pts(
        hsct_date=["2005-01-01"] * 4,
        relapse_date=["2005-04-11", None, "2005-07-01", None],
        death_date=["2005-09-01", "2005-02-10", None, None],
        last_followup_date=["2005-09-01", "2005-02-10", "2006-01-01", "2006-01-01"],
    )
    out = derive(df, "REL", rel, "2010-12-31")
    # relapse at day 100 precedes death: event of interest
    assert (out["AVAL"].iloc[0], out["CNSR"].iloc[0], out["EVENTTYPE"].iloc[0]) == (100, 0, 1)
    # death without relapse at day 40: competing event, CNSR 3, EVENTTYPE 2
    assert (out["AVAL"].iloc[1], out["CNSR"].iloc[1], out["EVENTTYPE"].iloc[1]) == (40, 3, 2)
    assert out["EVNTDESC"].iloc[1] == "Non-relapse mortality"
    assert (out["AVAL"].iloc[2], out["EVENTTYPE"].iloc[2]) == (181, 1)
    assert (out["AVAL"].iloc[3], out["CNSR"].iloc[3], out["EVENTTYPE"].iloc[3]) == (365, 1, 0)


def test_os_from_rr_diagnosis_censored_at_cutoff():
    os_ = OS
    df = _pts(
        rr_diagnosis_date=["2016-01-01", "2016-01-01"],
        death_date=["2017-03-01", None],
        last_followup_date=["2017-03-01", "2017-06-01"],
    )
    out = derive(df, "OS", os_, "2016-12-31")
    # a death after the cut-off is not counted: censored at the cut-off, 365 days (2016 leap)
    assert list(out["AVAL"]) == [365, 365] and list(out["CNSR"]) == [2, 2]


def test_events_before_the_origin_do_not_count():
    rel = {
        "label": "Relapse after HSCT",
        "origin": "hsct_date",
        "events": [{"source": "relapse_date", "description": "Relapse"}],
        "censor": "last_followup_date",
    }
    df = _pts(
        hsct_date=["2005-01-01"], relapse_date=["2004-06-01"], last_followup_date=["2005-12-31"]
    )
    out = derive(df, "REL", rel, "2010-12-31")
    assert (out["AVAL"].iloc[0], out["CNSR"].iloc[0]) == (364, 1)


def test_adtte_schema_rejects_negative_times():
    import pandera.errors
    import pytest

    from cohortflow.analyse.endpoints import adtte_schema

    df = _pts(
        diagnosis_date=["2005-01-01"],
        relapse_date=[None],
        death_date=[None],
        last_followup_date=["2004-12-01"],
    )
    out = derive(df, "EFS", EFS, "2010-12-31")
    assert out["AVAL"].iloc[0] == -31
    with pytest.raises(pandera.errors.SchemaErrors):
        adtte_schema().validate(out, lazy=True)


def test_an_origin_after_the_cut_off_is_no_origin_yet():
    """An HSCT in January for a December cut-off (a registry at 100,000 patients has some):
    the event/censor dates are after the cut-off too, so without this rule the patient got a
    negative time (censored at the cut-off, before the origin) and stopped the analysis."""
    os_hsct = dict(OS, label="Overall survival after HSCT", origin="hsct_date")
    df = _pts(
        hsct_date=["2017-01-03", "2016-12-31", None],
        death_date=["2017-02-01", None, None],
        last_followup_date=["2017-02-01", "2017-03-01", "2017-03-01"],
    )
    out = derive(df, "OS_HSCT", os_hsct, "2016-12-31")
    assert out["AVAL"].isna().iloc[0] and pd.isna(out["CNSR"].iloc[0])
    assert out["CNSDTDSC"].iloc[0] == "hsct_date after the data cut-off"
    # an origin on the cut-off day is at risk for 0 days, censored at the cut-off
    assert (out["AVAL"].iloc[1], out["CNSR"].iloc[1]) == (0, 2)
    assert out["CNSDTDSC"].iloc[2] == "no hsct_date"
    assert (out["AVAL"].dropna() >= 0).all()


def test_an_adtte_schema_error_names_endpoint_site_and_study_id():
    import pytest

    from cohortflow.analyse.stage import check_adtte
    from cohortflow.core.errors import CohortflowError

    df = _pts(
        diagnosis_date=["2005-01-01", "2005-01-01"],
        relapse_date=[None, None],
        death_date=[None, None],
        last_followup_date=["2004-12-01", "2005-12-01"],
    )
    out = derive(df, "EFS", EFS, "2010-12-31")
    with pytest.raises(CohortflowError) as err:
        check_adtte(out)
    msg = str(err.value)
    bad, good = out.iloc[0], out.iloc[1]
    assert f"endpoint EFS, site {bad['site']}, study ID {bad['study_id']}" in msg
    assert "value -31.0" in msg and "in 1 place(s)" in msg
    assert str(good["study_id"]) not in msg
