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
    conda:
        "../envs/cohortflow.yaml"
    params:
        code=code_hash("validate"),
        mapping=site_mapping,
        demo_key=demo_key,
        data_label=lambda wc: STUDIES[wc.study].get("data_label", ""),
        cutoff=lambda wc: STUDIES[wc.study]["cutoff_date"],
        identifiers=lambda wc: STUDIES[wc.study].get("identifiers", "remove"),
    script:
        "../scripts/validate.py"


rule cross_site:
    input:
        sites=lambda wc: site_tables(wc.study, "patients"),
        quarantined=lambda wc: per_site(wc.study, "quarantine/{site}.parquet"),
    output:
        duplicates=f"{RESULTS}/{{study}}/validate/cross_site_duplicates.csv",
    log:
        f"{RESULTS}/{{study}}/logs/cross_site.log",
    conda:
        "../envs/cohortflow.yaml"
    params:
        code=code_hash("cross_site"),
        data_label=lambda wc: STUDIES[wc.study].get("data_label", ""),
    script:
        "../scripts/cross_site.py"
