# Helpers shared by the rules: study definitions, per-site inputs and the output lists.
from functools import cache
from pathlib import Path

from cohortflow.core.codehash import ImportGraph
from cohortflow.core.config import load_study
from cohortflow.render.figure_names import figure_stems
from cohortflow.provenance.manifest import git_state
from cohortflow.core.slices import (
    analyse_slice,
    digest,
    figure_slice,
    label_slice,
    mapping_slice,
    report_slice,
    table_slice,
    workbook_sheets,
)

RESULTS = config.get("results_dir", "results")
RESTRICTED = config.get("restricted_dir", "restricted")
STUDIES_DIR = config.get("studies_dir", "config/studies")
STUDIES = {
    s: load_study(s, root=Path(workflow.basedir), studies_dir=STUDIES_DIR)
    for s in config["studies"]
}

# Commit and clean/dirty tree now: a parameter of the manifest rule, so the manifest is
# rewritten when either changes (its `git_dirty` reflects the tree of the run that wrote it).
GIT_STATE = git_state(Path(workflow.basedir))


# The code param of every job is code_hash(<its script>), the hash of the package modules
# its stage function reaches in the static import graph (cohortflow/core/codehash.py), so a
# code change reruns exactly the jobs whose stage imports the changed module.
# Cached in .snakemake/ (keyed by the content of every file it depends on): each job of a
# cluster run starts its own Snakemake processes, which then skip parsing the package.
CODE = ImportGraph(
    Path(workflow.basedir), cache=Path(workflow.basedir, ".snakemake", "codehash.json")
)


def code_hash(script):
    """SHA-256 (first 16 hex digits) of the package modules scripts/<script>.py runs."""
    return CODE.script_hash(f"scripts/{script}.py")


@cache
def study_need_labels(study):
    """What a study needs from every site (required and recommended variables), as a
    digest: the only part of the study definition a site's mapping check depends on."""
    from cohortflow.onboard.needs import study_needs

    return digest([f"{n.level}: {n.label}" for n in study_needs(STUDIES[study])])


def sites(study):
    """Site codes of a study, in definition order."""
    return list(STUDIES[study]["sites"])


def site_mapping(wildcards):
    """The validated mapping of one site (passed as params so edits rerun the site)."""
    return STUDIES[wildcards.study]["site_mappings"][wildcards.site]


def previous_submission(wildcards):
    """The site's submission before the one in use ([] if none): a resubmission is compared
    with it (patients missing now, values emptied)."""
    m = site_mapping(wildcards)
    earlier = [s for s in m["superseded"] if s["date"] < (m["submission_date"] or "")]
    return [max(earlier, key=lambda s: s["date"])["file"]] if earlier else []


def site_mapping_slice(wildcards):
    """The site's mapping as a params value (recorded and printed as a short digest)."""
    return mapping_slice(site_mapping(wildcards))


def site_duplicates(wildcards):
    """The site's own cross-site duplicates (written by the cross_site checkpoint)."""
    checkpoints.cross_site.get(study=wildcards.study)
    return f"{RESULTS}/{wildcards.study}/validate/duplicates/{wildcards.site}.csv"


def submission_file(wildcards):
    """The submitted file named by the site's mapping."""
    return site_mapping(wildcards)["file"]


def demo_key(wildcards):
    """Whether the study runs with the public demo key."""
    return bool(STUDIES[wildcards.study]["pseudonymisation"].get("demo_key", False))


def superseded(study):
    """Earlier submissions of every site (kept, listed in the manifest, not used)."""
    return [
        {"site": site, **sub}
        for site, m in STUDIES[study]["site_mappings"].items()
        for sub in m.get("superseded", [])
    ]


def policy(wildcards):
    """The study's validation policy: quarantine (default) or strict."""
    return STUDIES[wildcards.study].get("validation", {}).get("policy", "quarantine")


def per_site(study, pattern):
    """One path per site of a study under results/<study>/ (pattern has {site})."""
    return [f"{RESULTS}/{study}/{pattern.format(site=s)}" for s in sites(study)]


def figures(study):
    """Names of the figures of a study (besides the CONSORT diagram)."""
    return figure_stems(STUDIES[study])


def refused_models(study):
    """Cox models of a study that were refused (too few events): they get no forest plot.

    Read from the analyse checkpoint's cox.csv, so this is only known once it has run.
    """
    import csv

    cox = checkpoints.analyse.get(study=study).output.cox
    with open(cox, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    fitted = {r["model"] for r in rows if r.get("status") == "fitted"}
    return {f[7:] for f in figures(study) if f.startswith("forest_")} - fitted


def drawn_figures(study):
    """Figures a study run draws: every configured figure except refused models' forest plots."""
    has_forest = any(f.startswith("forest_") for f in figures(study))
    refused = refused_models(study) if has_forest else set()
    return [
        f for f in figures(study) if not (f.startswith("forest_") and f[7:] in refused)
    ]


def workbook_inputs(wildcards):
    """CSV tables that go into the study's XLSX workbook, by sheet name."""
    st = wildcards.study
    return workbook_sheets(STUDIES[st], f"{RESULTS}/{st}")


def analyses(study):
    """IDs of the configured analyses of a study."""
    return [a["id"] for a in STUDIES[study]["analyses"]]


def config_files(study):
    """Every config file a study's results depend on."""
    s = STUDIES[study]
    files = [f"{config.get('studies_dir', 'config/studies')}/{study}.yaml"]
    files += list(s["sites"].values())
    files += [f"config/risk_schemes/{r}.yaml" for r in s.get("risk_schemes", [])]
    files += ["config/checks.yaml"]  # the check catalogue decides who is set aside
    files += [str(f) for f in workflow.configfiles]
    return files


def table_outputs(study):
    """Human- and machine-readable tables of a study."""
    names = list(STUDIES[study].get("tables", {}))
    out = [
        f"{RESULTS}/{study}/tables/{n}.{ext}"
        for n in names
        for ext in ("csv", "md", "html", "docx")
    ]
    return out + [
        f"{RESULTS}/{study}/tables/{name}.{ext}"
        for name, exts in (
            ("survival", ("md", "html", "docx")),
            ("flow", ("md", "docx")),
            ("response_rates", ("md", "html", "docx")),
        )
        for ext in exts
    ]


LONGITUDINAL = ["events", "responses", "treatment_cycles", "transplants"]


def site_tables(study, table):
    """Per-site harmonised files of one canonical table."""
    suffix = "" if table == "patients" else f".{table}"
    return [
        f"{RESULTS}/{study}/harmonised/sites/{s}{suffix}.parquet" for s in sites(study)
    ]


def study_outputs(study, drawn=True):
    """Everything a study run produces except the manifest (drawn=False: without the forest
    plots, which are known only after the analyse checkpoint)."""
    out = [f"{RESULTS}/{study}/harmonised/sites/{s}.parquet" for s in sites(study)]
    out += [f"{RESULTS}/{study}/validate/{s}.findings.csv" for s in sites(study)]
    out += per_site(study, "validate/{site}.status.csv")
    out += per_site(study, "quarantine/{site}.parquet")
    out += per_site(study, "quarantine/{site}.reconciliation.json")
    out += [f"{RESULTS}/{study}/validate/cross_site_duplicates.csv"]
    out += per_site(study, "dq/{site}.html") + per_site(study, "dq/{site}.csv")
    out += [f"{RESULTS}/{study}/dq/study.html", f"{RESULTS}/{study}/dq/study.csv"]
    out += [
        f"{RESULTS}/{study}/harmonised/patients.parquet",
        *[f"{RESULTS}/{study}/harmonised/{t}.parquet" for t in LONGITUDINAL],
        *[f for t in LONGITUDINAL for f in site_tables(study, t)],
        f"{RESULTS}/{study}/classify/risk_groups.parquet",
        f"{RESULTS}/{study}/classify/explanations.csv",
        f"{RESULTS}/{study}/analyse/cohort.parquet",
        f"{RESULTS}/{study}/analyse/adtte.parquet",
        f"{RESULTS}/{study}/analyse/survival.csv",
        f"{RESULTS}/{study}/analyse/strata.csv",
        f"{RESULTS}/{study}/analyse/tests.csv",
        f"{RESULTS}/{study}/analyse/flow.csv",
        f"{RESULTS}/{study}/analyse/eligibility.csv",
        f"{RESULTS}/{study}/analyse/set_aside.csv",
        f"{RESULTS}/{study}/analyse/response_rates.csv",
        f"{RESULTS}/{study}/analyse/response_counts.csv",
    ]
    out += table_outputs(study)
    out += [f"{RESULTS}/{study}/figures/consort.{ext}" for ext in ("png", "pdf", "svg")]
    out += [
        f"{RESULTS}/{study}/figures/{f}.{ext}"
        for f in (
            drawn_figures(study)
            if drawn
            else [f for f in figures(study) if not f.startswith("forest_")]
        )
        for ext in ("png", "pdf", "svg")
    ]
    out += [
        f"{RESULTS}/{study}/analyse/cox.csv",
        f"{RESULTS}/{study}/analyse/cif.csv",
        f"{RESULTS}/{study}/analyse/rmst.csv",
        f"{RESULTS}/{study}/analyse/landmark.parquet",
        f"{RESULTS}/{study}/analyse/simon_makuch.parquet",
        f"{RESULTS}/{study}/analyse/simon_makuch_at_risk.csv",
        f"{RESULTS}/{study}/analyse/curves.parquet",
        f"{RESULTS}/{study}/tables/rmst.md",
        f"{RESULTS}/{study}/tables/rmst.html",
        f"{RESULTS}/{study}/tables/cox.md",
        f"{RESULTS}/{study}/tables/cox.html",
        f"{RESULTS}/{study}/tables/cox.docx",
        f"{RESULTS}/{study}/tables/competing_risks.md",
        f"{RESULTS}/{study}/tables/competing_risks.html",
        f"{RESULTS}/{study}/tables/competing_risks.docx",
        f"{RESULTS}/{study}/tables/tables.xlsx",
    ]
    return out


def all_outputs():
    """The manifest and report of every configured study and, as targets of their own, every
    output and intermediate (Snakemake does not rebuild a deleted intermediate file whose
    consumers are up to date unless it is a target)."""
    out = [
        f"{RESULTS}/{s}/{f}" for s in STUDIES for f in ("manifest.json", "report.html")
    ]
    for s in STUDIES:
        # forest plots exist only for fitted models (known after the analyse checkpoint):
        # they are reached through the manifest's inputs, not listed here at parse time
        out += study_outputs(s, drawn=False)
        out += per_site(s, "ingest/{site}.json") + per_site(
            s, "validate/{site}.parquet"
        )
        out += [f"{RESTRICTED}/{s}/raw/{site}.parquet" for site in sites(s)]
    return out + [q for s in STUDIES for q in restricted_outputs(s)]


def restricted_outputs(study):
    """The sites' query listings (local IDs: restricted area, never in the manifest)."""
    return [
        f"{RESTRICTED}/{study}/queries/{s}.{ext}"
        for s in sites(study)
        for ext in ("csv", "xlsx")
    ]


wildcard_constraints:
    study="|".join(STUDIES),
    site="|".join(sorted({x for s in STUDIES.values() for x in s["sites"]})),
    figure="|".join(sorted({f for s in STUDIES for f in figures(s)})) or "none",
    table="|".join(sorted({t for s in STUDIES.values() for t in s.get("tables", {})}))
    or "none",


def mem_from_input(base_mb, per_input_mb):
    """Memory request of a cluster job (MB): base plus a multiple of its input size.

    Doubles on each retry, so a job the scheduler killed for exceeding its memory gets
    twice as much when the profile retries it.
    """
    return lambda wildcards, input, attempt: int(
        (base_mb + per_input_mb * input.size_mb) * attempt
    )
