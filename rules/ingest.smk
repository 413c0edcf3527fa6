# Ingest: one job per site; a lossless all-text copy kept in the restricted area.


rule ingest:
    input:
        submission=submission_file,
    output:
        raw=f"{RESTRICTED}/{{study}}/raw/{{site}}.parquet",
        meta=f"{RESULTS}/{{study}}/ingest/{{site}}.json",
    log:
        f"{RESULTS}/{{study}}/logs/ingest/{{site}}.log",
    conda:
        "../envs/cohortflow.yaml"
    params:
        code=code_hash("ingest"),
        mapping=site_mapping,
    script:
        "../scripts/ingest.py"
