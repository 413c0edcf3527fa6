# Harmonise: one job per site into the canonical model, then one merge per study.


rule harmonise:
    input:
        data=f"{RESULTS}/{{study}}/validate/{{site}}.parquet",
        findings=f"{RESULTS}/{{study}}/validate/{{site}}.findings.csv",
        summary=f"{RESULTS}/{{study}}/validate/{{site}}.summary.json",
    output:
        data=f"{RESULTS}/{{study}}/harmonised/sites/{{site}}.parquet",
        quarantine=f"{RESULTS}/{{study}}/quarantine/{{site}}.parquet",
        reconciliation=f"{RESULTS}/{{study}}/quarantine/{{site}}.reconciliation.json",
        events=f"{RESULTS}/{{study}}/harmonised/sites/{{site}}.events.parquet",
        responses=f"{RESULTS}/{{study}}/harmonised/sites/{{site}}.responses.parquet",
        treatment_cycles=f"{RESULTS}/{{study}}/harmonised/sites/{{site}}.treatment_cycles.parquet",
        transplants=f"{RESULTS}/{{study}}/harmonised/sites/{{site}}.transplants.parquet",
    log:
        f"{RESULTS}/{{study}}/logs/harmonise/{{site}}.log",
    group:
        "site"
    conda:
        "../envs/cohortflow.yaml"
    resources:
        mem_mb=mem_from_input(1000, 20),
    params:
        code=code_hash("harmonise"),
        policy=policy,
    script:
        "../scripts/harmonise.py"


rule merge:
    input:
        sites=lambda wc: site_tables(wc.study, "patients"),
        events=lambda wc: site_tables(wc.study, "events"),
        responses=lambda wc: site_tables(wc.study, "responses"),
        treatment_cycles=lambda wc: site_tables(wc.study, "treatment_cycles"),
        transplants=lambda wc: site_tables(wc.study, "transplants"),
        statuses=lambda wc: per_site(wc.study, "validate/{site}.status.csv"),
    output:
        data=f"{RESULTS}/{{study}}/harmonised/patients.parquet",
        events=f"{RESULTS}/{{study}}/harmonised/events.parquet",
        responses=f"{RESULTS}/{{study}}/harmonised/responses.parquet",
        treatment_cycles=f"{RESULTS}/{{study}}/harmonised/treatment_cycles.parquet",
        transplants=f"{RESULTS}/{{study}}/harmonised/transplants.parquet",
    log:
        f"{RESULTS}/{{study}}/logs/merge.log",
    conda:
        "../envs/cohortflow.yaml"
    resources:
        mem_mb=mem_from_input(1000, 20),
    params:
        code=code_hash("merge"),
        policy=policy,
        data_label=lambda wc: STUDIES[wc.study].get("data_label", ""),
    script:
        "../scripts/merge.py"
