# Harmonise: one job per site into the canonical model, then one merge per study.


rule harmonise:
    input:
        data=f"{RESULTS}/{{study}}/validate/{{site}}.parquet",
    output:
        data=f"{RESULTS}/{{study}}/harmonised/sites/{{site}}.parquet",
    log:
        f"{RESULTS}/{{study}}/logs/harmonise/{{site}}.log",
    conda:
        "../envs/cohortflow.yaml"
    params:
        code=code_hash("harmonise"),
    script:
        "../scripts/harmonise.py"


rule merge:
    input:
        sites=lambda wc: expand(
            f"{RESULTS}/{{study}}/harmonised/sites/{{site}}.parquet",
            study=wc.study,
            site=sites(wc.study),
        ),
    output:
        data=f"{RESULTS}/{{study}}/harmonised/patients.parquet",
    log:
        f"{RESULTS}/{{study}}/logs/merge.log",
    conda:
        "../envs/cohortflow.yaml"
    params:
        code=code_hash("merge"),
        data_label=lambda wc: STUDIES[wc.study].get("data_label", ""),
    script:
        "../scripts/merge.py"
