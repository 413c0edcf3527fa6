"""Deterministic generator of a SYNTHETIC multicentre relapsed/refractory (R/R) paediatric ALL
submission, shaped like the Korean multicentre retrospective study of seed 001
(Yoo KH et al., Clin Pediatr Hematol Oncol 2017;24:101).

Nine sites (S01..S09) each send their case report forms in their own way, so that every reader
and quirk of the pipeline is exercised: UTF-8 CSV with a BOM and a corrected resubmission (S01),
semicolon-delimited CSV (S02), a REDCap raw export with its data dictionary (S03), CP949 CSV or
tab-delimited text from Korean Excel with FAKE direct identifiers to be dropped (S04-S06), XLSX
with a two-row merged header (S07) or title rows, blank rows and Excel serial dates (S08), and an
SPSS .sav file with value labels (S09). Count-level aggregates of the paper (screened, eligible,
analysed, Table 1 categories, Table 2 agents, responses, HSCT) are reproduced exactly by
construction; continuous summaries and Kaplan-Meier survival are approximated.

Usage::

    python -m cohortflow.demo.rr_all --out data/rr_all --mappings config/sites/rr_all

The output is byte-for-byte reproducible (fixed seeds; XLSX timestamps and zip entry times and
the SPSS header's creation date/time are pinned). No real patient is represented; the names,
resident registration numbers, phone numbers and addresses of S04 and S06 are invented.

The generator is split by what it generates: ``rr_cohort`` (the patients and their values),
``rr_sites`` (how each site submits), ``rr_records`` (one CRF record in a site's own way),
``rr_files`` (the file writers per format) and ``rr_mappings`` (the site mapping files); this
module writes a whole submission (``generate``), summarises it and is the command line.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cohortflow.demo.rr_cohort import (
    DAYS_PER_YEAR,
    DUPLICATE_LOCAL_ID,
    DUPLICATE_OF,
    DUPLICATE_RESPONSE,
    DUPLICATE_SITE,
    WRONG_UNIT_WBC,
    WRONG_UNIT_WBC_PER_UL,
    Patient,
    build_cohort,
)
from cohortflow.demo.rr_files import (
    plant_errors,
    redcap_dictionary_rows,
    redcap_export_rows,
    write_csv,
    write_rows_csv,
    write_sav_file,
    write_xlsx,
)
from cohortflow.demo.rr_mappings import mapping_yaml, write_mappings
from cohortflow.demo.rr_records import crf_record, first_submission, site_extras, site_rng
from cohortflow.demo.rr_sites import FAKE_NAMES, REDCAP_DICTIONARY_COLUMNS, SITES

#: What the tests and other tools use of the generator, in one place.
__all__ = [
    "DUPLICATE_LOCAL_ID",
    "DUPLICATE_OF",
    "DUPLICATE_RESPONSE",
    "DUPLICATE_SITE",
    "FAKE_NAMES",
    "REDCAP_DICTIONARY_COLUMNS",
    "SITES",
    "WRONG_UNIT_WBC",
    "WRONG_UNIT_WBC_PER_UL",
    "Patient",
    "build_cohort",
    "generate",
    "main",
    "mapping_yaml",
    "summary",
    "write_mappings",
]


def generate(out_dir: Path) -> None:
    """Write the nine site submissions under ``out_dir/<site>/`` (the README is not touched)."""
    out_dir = Path(out_dir)
    patients = build_cohort()
    for code, site in SITES.items():
        members = [p for p in patients if p.site == code]
        folder = out_dir / code
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / site.filename
        if site.fmt == "sav":
            write_sav_file(path, site, members)
            continue
        if site.fmt == "redcap":
            write_rows_csv(path, redcap_export_rows(site, members))
            write_rows_csv(folder / site.dictionary_filename, redcap_dictionary_rows(site))
            continue
        extras = site_extras(site, members)
        rng = site_rng(code + "-cells")
        rows = [
            crf_record(p, k, site, extras[p.local_id], rng) for k, p in enumerate(members, start=1)
        ]
        plant_errors(site, patients, members, rows)
        if site.fmt == "csv":
            write_csv(path, site, rows)
            if site.earlier is not None:
                first = first_submission(site, members, rows)
                write_csv(folder / site.filename_for(site.earlier), site, first)
        else:
            write_xlsx(path, site, rows)


# --------------------------------------------------------------------------------------------
# Summary (what was achieved)
# --------------------------------------------------------------------------------------------


def _km(times: list[int], events: list[bool], at_days: list[float]) -> list[float]:
    """Kaplan-Meier survival at the given days (product-limit, right-continuous)."""
    order = sorted(zip(times, events, strict=True))
    surv, out, s = [], [], 1.0
    n_at_risk = len(order)
    k = 0
    while k < len(order):
        t = order[k][0]
        same = [e for tt, e in order[k:] if tt == t]
        d = sum(same)
        if d:
            s *= 1 - d / n_at_risk
            surv.append((t, s))
        n_at_risk -= len(same)
        k += len(same)
    for a in at_days:
        v = 1.0
        for t, sv in surv:
            if t <= a:
                v = sv
        out.append(v)
    return out


def summary(patients: Sequence[Patient] | None = None) -> dict[str, Any]:
    """Achieved aggregates: continuous summaries (eligible) and KM overall survival (analysed)."""
    pts = list(patients) if patients is not None else build_cohort()
    elig = [p for p in pts if p.eligible]
    anal = [p for p in elig if p.tx]

    def stats(xs: list[float]) -> dict[str, float]:
        xs = sorted(xs)
        n = len(xs)
        mean = sum(xs) / n
        sd = (sum((x - mean) ** 2 for x in xs) / (n - 1)) ** 0.5
        med = (xs[(n - 1) // 2] + xs[n // 2]) / 2
        return {
            "n": n,
            "mean": round(mean, 2),
            "sd": round(sd, 2),
            "median": round(med, 2),
            "min": round(xs[0], 2),
            "max": round(xs[-1], 2),
        }

    def os(group: list[Patient]) -> list[float]:
        times = [(p.lfu - p.rr).days for p in group if p.lfu]
        events = [p.death is not None for p in group if p.lfu]
        return [
            round(100 * v, 1) for v in _km(times, events, [y * DAYS_PER_YEAR for y in (1, 2, 3, 5)])
        ]

    cr_hsct = [p for p in anal if p.hsct and p.response in ("CR", "CRp")]
    post = _km(
        [(p.lfu - p.hsct).days for p in cr_hsct],
        [p.death is not None for p in cr_hsct],
        [3 * DAYS_PER_YEAR],
    )
    return {
        "age_at_rr_years": stats([(p.rr - p.birth).days / DAYS_PER_YEAR for p in elig]),
        "height_cm": stats([p.height for p in elig if p.height is not None]),
        "weight_kg": stats([p.weight for p in elig if p.weight is not None]),
        "os_1_2_3_5y_pct": os(anal),
        "os_hsct_1_2_3_5y_pct": os([p for p in anal if p.hsct]),
        "os_no_hsct_1_2_3_5y_pct": os([p for p in anal if not p.hsct]),
        "os_3y_after_hsct_cr_crp_pct": round(100 * post[0], 1),
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: write the data (and optionally the mappings) and print what was achieved."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("data/rr_all"), help="output directory")
    ap.add_argument(
        "--mappings",
        type=Path,
        default=None,
        help="also write the site mappings into this directory",
    )
    args = ap.parse_args(argv)
    generate(args.out)
    if args.mappings is not None:
        write_mappings(args.mappings)
    for key, value in summary().items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
