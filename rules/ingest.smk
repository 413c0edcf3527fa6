# Ingest: one job per site, after the check of the site's mapping against its file; a
# lossless all-text copy kept in the restricted area.


rule check_mapping:
    input:
        submission=submission_file,
    output:
        report=f"{RESULTS}/{{study}}/mapping/{{site}}.check.txt",
    log:
        f"{RESULTS}/{{study}}/logs/check_mapping/{{site}}.log",
    group:
        "site"
    conda:
        "../envs/cohortflow.yaml"
    params:
        code=code_hash("check_mapping"),
        # re-run when the mapping's content or the labels the study needs change (digests:
        # not on comments, titles or other study items; a passing re-check re-ingests nothing)
        mapping=site_mapping_slice,
        needs=lambda wc: study_need_labels(wc.study),
        mapping_file=lambda wc: STUDIES[wc.study]["sites"][wc.site],
        studies_dir=STUDIES_DIR,
    script:
        "../scripts/check_mapping.py"


rule ingest:
    input:
        submission=submission_file,
        # the centre's mapping is checked first: its mistakes never become site queries.
        # Not ancient(): Snakemake then never looks at this job's own reasons (a resubmitted
        # file, a changed mapping) when the check reruns in the same run, so a resubmission
        # would not be ingested (tests/test_registry.py resubmits a site)
        mapping_check=f"{RESULTS}/{{study}}/mapping/{{site}}.check.txt",
    output:
        raw=f"{RESTRICTED}/{{study}}/raw/{{site}}.parquet",
        meta=f"{RESULTS}/{{study}}/ingest/{{site}}.json",
    log:
        f"{RESULTS}/{{study}}/logs/ingest/{{site}}.log",
    group:
        "site"
    conda:
        "../envs/cohortflow.yaml"
    resources:
        mem_mb=mem_from_input(1000, 30),
    params:
        code=code_hash("ingest"),
        mapping=site_mapping_slice,
    script:
        "../scripts/ingest.py"
