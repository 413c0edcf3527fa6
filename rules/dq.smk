# Data-quality reports: one per site and one per study (shareable: no local IDs).


rule dq_site:
    input:
        findings=f"{RESULTS}/{{study}}/validate/{{site}}.findings.csv",
        status=f"{RESULTS}/{{study}}/validate/{{site}}.status.csv",
        reconciliation=f"{RESULTS}/{{study}}/quarantine/{{site}}.reconciliation.json",
        meta=f"{RESULTS}/{{study}}/ingest/{{site}}.json",
        duplicates=site_duplicates,
    output:
        html=f"{RESULTS}/{{study}}/dq/{{site}}.html",
        csv=f"{RESULTS}/{{study}}/dq/{{site}}.csv",
    log:
        f"{RESULTS}/{{study}}/logs/dq/{{site}}.log",
    group:
        "queries_{study}"
    conda:
        "../envs/cohortflow.yaml"
    params:
        code=code_hash("dq_site"),
        study=lambda wc: label_slice(STUDIES[wc.study]),
    script:
        "../scripts/dq_site.py"


rule dq_study:
    input:
        findings=lambda wc: per_site(wc.study, "validate/{site}.findings.csv"),
        statuses=lambda wc: per_site(wc.study, "validate/{site}.status.csv"),
        reconciliations=lambda wc: per_site(
            wc.study, "quarantine/{site}.reconciliation.json"
        ),
        duplicates=f"{RESULTS}/{{study}}/validate/cross_site_duplicates.csv",
    output:
        html=f"{RESULTS}/{{study}}/dq/study.html",
        csv=f"{RESULTS}/{{study}}/dq/study.csv",
    log:
        f"{RESULTS}/{{study}}/logs/dq/study.log",
    conda:
        "../envs/cohortflow.yaml"
    params:
        code=code_hash("dq_study"),
        study=lambda wc: label_slice(STUDIES[wc.study]),
    script:
        "../scripts/dq_study.py"


rule query_listing:
    input:
        checks=f"{RESTRICTED}/{{study}}/queries/checks/{{site}}.csv",
        duplicates=site_duplicates,
        raw=f"{RESTRICTED}/{{study}}/raw/{{site}}.parquet",
    output:
        csv=f"{RESTRICTED}/{{study}}/queries/{{site}}.csv",
        xlsx=f"{RESTRICTED}/{{study}}/queries/{{site}}.xlsx",
    log:
        f"{RESULTS}/{{study}}/logs/query_listing/{{site}}.log",
    group:
        "queries_{study}"
    conda:
        "../envs/cohortflow.yaml"
    params:
        code=code_hash("query_listing"),
        mapping=site_mapping_slice,
    script:
        "../scripts/query_listing.py"
