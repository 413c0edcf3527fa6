# Validate: one job per site; map to canonical variables, pseudonymise, check.


rule validate:
    input:
        raw=f"{RESTRICTED}/{{study}}/raw/{{site}}.parquet",
        meta=f"{RESULTS}/{{study}}/ingest/{{site}}.json",
    output:
        data=f"{RESULTS}/{{study}}/validate/{{site}}.parquet",
        findings=f"{RESULTS}/{{study}}/validate/{{site}}.findings.csv",
        summary=f"{RESULTS}/{{study}}/validate/{{site}}.summary.json",
    log:
        f"{RESULTS}/{{study}}/logs/validate/{{site}}.log",
    conda:
        "../envs/cohortflow.yaml"
    params:
        code=code_hash("validate"),
        mapping=site_mapping,
        demo_key=demo_key,
        data_label=lambda wc: STUDIES[wc.study].get("data_label", ""),
    script:
        "../scripts/validate.py"
