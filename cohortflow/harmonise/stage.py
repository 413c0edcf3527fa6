"""Harmonise stages: canonical tables per site (rule `harmonise`) and the study merge (rule
`merge`).
"""

from __future__ import annotations

import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cohortflow.core import dictionary
from cohortflow.core.errors import CohortflowError
from cohortflow.core.findings import pandera_findings
from cohortflow.core.io import (
    read_parquet_metadata,
    sha256_file,
    write_arrow,
    write_json,
    write_parquet,
)
from cohortflow.harmonise.derive import harmonise, longitudinal

log = logging.getLogger("cohortflow")


LONGITUDINAL = ("events", "responses", "treatment_cycles", "transplants")


def harmonise_site(
    validated: str,
    data_out: str,
    tables_out: dict[str, str] | None = None,
    findings: str | None = None,
    policy: str = "quarantine",
    quarantine_out: str | None = None,
    reconciliation_out: str | None = None,
    validate_summary: str | None = None,
) -> None:
    """Canonical tables of one site: patients (derived variables, dictionary dtypes) and the
    longitudinal events, responses, treatment cycles and transplants.

    Under the ``quarantine`` policy, records with a fatal finding are set aside (with their
    reasons) instead of harmonised; under ``strict`` all are kept and the merge stops.
    """
    meta = read_parquet_metadata(validated)
    mapped = pd.read_parquet(validated)
    site = str(meta.get("site"))
    reasons: dict[str, str] = {}
    if findings and policy == "quarantine":
        f = pd.read_csv(findings)
        fatal = f[(f["severity"] == "fatal") & f["study_id"].notna()]
        for sid, g in fatal.groupby("study_id", sort=True):
            reasons[sid] = "; ".join(sorted(set(g["check"])))
    aside = mapped["study_id"].isin(list(reasons))
    set_aside = mapped[aside].reset_index(drop=True)
    mapped = mapped[~aside].reset_index(drop=True)
    df = harmonise(mapped)
    problems = pandera_findings(df, site, "harmonise")
    if len(problems) and policy == "quarantine":
        raise CohortflowError(
            f"site {site}: {len(problems)} harmonised values break the canonical schema although "
            "no fatal finding was raised; this is a bug in the check catalogue or the mapping"
        )
    prov = {
        "site": meta.get("site"),
        "inputs": {"validated_sha256": sha256_file(validated)},
        "demo_key": meta.get("demo_key"),
        "data_label": meta.get("data_label", ""),
        "dictionary_version": dictionary.dictionary_version(),
        "policy": policy,
    }
    write_parquet(df, data_out, {"stage": "harmonise", "table": "patients", **prov})
    for name, table in longitudinal(mapped).items():
        bad = pandera_findings(table, site, "harmonise", name)
        if len(bad):
            log.warning("site %s: table %s: %d schema failures", site, name, len(bad))
        if tables_out and name in tables_out:
            write_parquet(table, tables_out[name], {"stage": "harmonise", "table": name, **prov})
    if quarantine_out:
        q = harmonise(set_aside) if len(set_aside) else dictionary.empty_frame()
        q = q.assign(quarantine_reasons=[reasons[s] for s in q["study_id"]])
        write_parquet(q, quarantine_out, {"stage": "quarantine", **prov})
    if reconciliation_out:
        vs = json.loads(Path(validate_summary).read_text()) if validate_summary else {}
        rec = {
            "site": site,
            "file": vs.get("file"),
            "rows_read": vs.get("rows_read"),
            "rows_harmonised": int(len(df)),
            "rows_quarantined": int(len(set_aside)) + int(vs.get("rows_set_aside", 0)),
            "quarantine_reasons": {
                **reasons,
                **({"(no local ID)": "local_id_present"} if vs.get("rows_set_aside") else {}),
            },
            "policy": policy,
            **({"site_set_aside": vs["site_set_aside"]} if vs.get("site_set_aside") else {}),
        }
        if vs and rec["rows_read"] != rec["rows_harmonised"] + rec["rows_quarantined"]:
            raise CohortflowError(f"site {site}: rows read != harmonised + quarantined: {rec}")
        write_json(rec, reconciliation_out)
    log.info("site %s: %d patients harmonised, %d set aside", site, len(df), len(set_aside))


def by_site_and_id(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """``frames`` concatenated and stably sorted by site and study ID.

    The same rows as ``pd.concat(frames).sort_values(["site", "study_id"], kind="stable")``,
    cheaper when each frame holds one site (as the per-site files do): each frame is sorted on
    its own and the frames are put in site order, and the global sort runs only when that did
    not give a sorted result (at 1,000,000 patients the global sort of the string keys took
    2 s a table).
    """
    keys = ["site", "study_id"]
    parts = [f.sort_values(keys, kind="stable") for f in frames]
    parts.sort(key=lambda f: "" if f.empty else str(f["site"].iloc[0]))
    df = pd.concat(parts, ignore_index=True)
    site = df["site"].to_numpy(dtype=object)
    sid = df["study_id"].to_numpy(dtype=object)
    if len(df) > 1:
        try:
            ordered = (site[1:] > site[:-1]) | ((site[1:] == site[:-1]) & (sid[1:] >= sid[:-1]))
            done = bool(np.all(ordered))
        except TypeError:  # missing keys: let the sort order them
            done = False
        if not done:
            df = pd.concat(frames, ignore_index=True).sort_values(keys, kind="stable")
    return df


def canonical_arrow_schema(table: str = "patients") -> pa.Schema:
    """The Arrow schema (with its pandas metadata) that ``write_parquet`` gives a conformed
    canonical table: what ``pa.Table.from_pandas(dictionary.conform(df))`` makes of any data,
    since every canonical column has an extension or datetime dtype."""
    return pa.Table.from_pandas(dictionary.empty_frame(table), preserve_index=False).schema


def _pandas_columns(schema: pa.Schema) -> tuple[list[Any], list[Any]] | None:
    """The pandas metadata's column entries and index columns of ``schema`` (None if none)."""
    raw = (schema.metadata or {}).get(b"pandas")
    if raw is None:
        return None
    meta = json.loads(raw)
    return meta.get("columns"), meta.get("index_columns")


def arrow_by_site_and_id(tables: list[pa.Table], table: str = "patients") -> pa.Table | None:
    """The merged canonical ``table`` as an Arrow table with the canonical schema (pandas
    metadata included): the rows ``dictionary.conform(by_site_and_id(frames))`` gives for the
    same files read with pandas, without converting a cell to a Python object.

    None when a part is not already canonical (another column set, type or pandas dtype in its
    metadata) or a site or study ID is missing: the pandas path then conforms and sorts it.
    """
    schema = canonical_arrow_schema(table)
    want = _pandas_columns(schema)
    for t in tables:
        if not t.schema.equals(schema, check_metadata=False) or _pandas_columns(t.schema) != want:
            return None
        if t.column("site").null_count or t.column("study_id").null_count:
            return None
    if not tables:
        return schema.empty_table()
    keys = [("site", "ascending"), ("study_id", "ascending")]
    # each part sorted on its own (stable), the parts in the order of their first site
    first = [pc.min(t.column("site")).as_py() if t.num_rows else "" for t in tables]
    order = sorted(range(len(tables)), key=lambda i: first[i])
    # the system allocator: with Arrow's default (mimalloc) the takes of a million rows
    # spent 1.5 s in the kernel instead of 0.2 s
    pool = pa.system_memory_pool()
    merged = pa.concat_tables([_sorted(tables[i], keys, pool) for i in order])
    if not _ordered(merged.column("site"), merged.column("study_id")):
        whole = pa.concat_tables(tables)
        merged = pc.take(whole, pc.sort_indices(whole, sort_keys=keys), memory_pool=pool)
    return merged.combine_chunks(memory_pool=pool).replace_schema_metadata(schema.metadata)


def _sorted(table: pa.Table, keys: list[tuple[str, str]], pool: pa.MemoryPool) -> pa.Table:
    """``table`` stably sorted by ``keys``; itself when already sorted (no copy: the per-site
    longitudinal tables are)."""
    idx = pc.sort_indices(table, sort_keys=keys)
    if np.array_equal(np.asarray(idx), np.arange(len(idx))):
        return table
    return pc.take(table, idx, memory_pool=pool)


def _ordered(site: pa.ChunkedArray, sid: pa.ChunkedArray) -> bool:
    """Whether rows without missing keys are sorted by site, then study ID."""
    if len(site) < 2:
        return True
    s0, s1 = site.slice(0, len(site) - 1), site.slice(1)
    i0, i1 = sid.slice(0, len(sid) - 1), sid.slice(1)
    ok = pc.or_(pc.greater(s1, s0), pc.and_(pc.equal(s1, s0), pc.greater_equal(i1, i0)))
    return bool(pc.all(ok).as_py())


def read_tables(paths: list[str]) -> list[pa.Table]:
    """The Parquet files ``paths`` as Arrow tables, in order, read by a few threads at once
    (per file, Arrow's own threads barely help: at 1,000,000 patients the 500 small per-site
    files took 1.6 s one by one and 1.0 s two at a time)."""
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        return list(pool.map(lambda p: pq.read_table(p, use_threads=False), paths))


def _merged_table(paths: list[str], table: str) -> pa.Table:
    """The canonical ``table`` of ``paths``, sorted by site and study ID, as ``write_parquet``
    would convert it: merged in Arrow (``arrow_by_site_and_id``) or, for files that are not
    canonical, read with pandas, sorted by ``by_site_and_id`` and conformed."""
    merged = arrow_by_site_and_id(read_tables(paths), table)
    if merged is not None:
        return merged
    frames = [pd.read_parquet(p) for p in paths]
    df = dictionary.conform(
        by_site_and_id(frames) if frames else dictionary.empty_frame(table), table
    )
    return pa.Table.from_pandas(df, preserve_index=False)


def merge_sites(
    sites: list[str],
    data_out: str,
    data_label: str,
    tables_in: dict[str, list[str]] | None = None,
    tables_out: dict[str, str] | None = None,
    policy: str = "quarantine",
    statuses: list[str] | None = None,
) -> None:
    """The study's harmonised tables: all sites, sorted by site and study ID.

    Under the ``strict`` policy a fatal check failing at any site stops the run here, before
    anything is merged, with a one-screen summary. Patients sent by two sites are flagged by
    ``find_cross_site_duplicates`` and never merged.

    Canonical per-site files (as ``harmonise_site`` writes them) are merged in Arrow; any
    other file goes through pandas (``dictionary.conform``); both give the same bytes.
    """
    if policy == "strict" and statuses:
        st = pd.concat([pd.read_csv(p) for p in statuses], ignore_index=True)
        bad = st[(st["severity"] == "fatal") & (st["status"] == "fail")]
        if len(bad):
            lines = [
                f"  {r.site:<8} {r.check:<28} {r.failed:>4} of {r.records} records"
                for r in bad.itertuples()
            ]
            raise CohortflowError(
                "strict policy: fatal data-quality checks failed, nothing was merged.\n"
                f"  {'site':<8} {'check':<28} failing\n" + "\n".join(lines) + "\n"
                "See results/<study>/dq/ for the reports and restricted/<study>/queries/ for "
                "the listings to send to the sites; or set `validation: {policy: quarantine}` "
                "in the study definition to set these records aside and proceed."
            )
    meta = {"data_label": data_label, "dictionary_version": dictionary.dictionary_version()}
    # each table is written by a second thread while the next is read and sorted
    with ThreadPoolExecutor(max_workers=1) as writer:
        merged = _merged_table(sites, "patients")
        counts = pc.value_counts(merged.column("study_id")).field("counts")
        shared = pc.sum(pc.filter(counts, pc.greater(counts, 1))).as_py() or 0
        if shared:
            raise CohortflowError(
                f"{shared} rows share a study ID across the merge; "
                "see the validation findings (duplicate local IDs)"
            )
        n_patients = merged.num_rows
        inputs = {Path(p).name: sha256_file(p) for p in sites}
        info = {"stage": "merge", "table": "patients", **meta, "inputs": inputs}
        written = [writer.submit(write_arrow, merged, data_out, info)]
        del merged
        for name, paths in (tables_in or {}).items():
            t = _merged_table(paths, name)
            inputs = {Path(p).name: sha256_file(p) for p in paths}
            info = {"stage": "merge", "table": name, **meta, "inputs": inputs}
            written.append(writer.submit(write_arrow, t, tables_out[name], info))
            del t
        for w in written:
            w.result()
    log.info("merged %d sites, %d patients", len(sites), n_patients)
