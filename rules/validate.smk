# Validate: one job per site; map to canonical variables, pseudonymise, run the check catalogue.


rule validate:
    input:
        raw=f"{RESTRICTED}/{{study}}/raw/{{site}}.parquet",
        meta=f"{RESULTS}/{{study}}/ingest/{{site}}.json",
        checks="config/checks.yaml",
        previous=previous_submission,
    output:
        data=f"{RESULTS}/{{study}}/validate/{{site}}.parquet",
        findings=f"{RESULTS}/{{study}}/validate/{{site}}.findings.csv",
        status=f"{RESULTS}/{{study}}/validate/{{site}}.status.csv",
        summary=f"{RESULTS}/{{study}}/validate/{{site}}.summary.json",
        queries_csv=f"{RESTRICTED}/{{study}}/queries/checks/{{site}}.csv",
        queries_xlsx=f"{RESTRICTED}/{{study}}/queries/checks/{{site}}.xlsx",
    log:
        f"{RESULTS}/{{study}}/logs/validate/{{site}}.log",
    group:
        "site"
    conda:
        "../envs/cohortflow.yaml"
    resources:
        mem_mb=mem_from_input(1000, 30),
    params:
        code=code_hash("validate"),
        mapping=site_mapping_slice,
        demo_key=demo_key,
        data_label=lambda wc: STUDIES[wc.study].get("data_label", ""),
        cutoff=lambda wc: STUDIES[wc.study]["cutoff_date"],
        identifiers=lambda wc: STUDIES[wc.study].get("identifiers", "remove"),
    script:
        "../scripts/validate.py"


# A checkpoint: once it has run, the DAG is re-evaluated, and a site's query listing reruns
# only if that site's own duplicates file changed (Snakemake compares checksums of inputs).
checkpoint cross_site:
    input:
        sites=lambda wc: site_tables(wc.study, "patients"),
        quarantined=lambda wc: per_site(wc.study, "quarantine/{site}.parquet"),
    output:
        duplicates=f"{RESULTS}/{{study}}/validate/cross_site_duplicates.csv",
        per_site=directory(f"{RESULTS}/{{study}}/validate/duplicates"),
    log:
        f"{RESULTS}/{{study}}/logs/cross_site.log",
    conda:
        "../envs/cohortflow.yaml"
    resources:
        mem_mb=mem_from_input(1000, 20),
    params:
        code=code_hash("cross_site"),
        data_label=lambda wc: STUDIES[wc.study].get("data_label", ""),
        sites=lambda wc: digest(sites(wc.study)),
    script:
        "../scripts/cross_site.py"
