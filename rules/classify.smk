# Classify: risk groups by declarative, versioned schemes (config/risk_schemes/).


rule classify:
    input:
        patients=f"{RESULTS}/{{study}}/harmonised/patients.parquet",
    output:
        groups=f"{RESULTS}/{{study}}/classify/risk_groups.parquet",
        explain=f"{RESULTS}/{{study}}/classify/explanations.csv",
    log:
        f"{RESULTS}/{{study}}/logs/classify.log",
    conda:
        "../envs/cohortflow.yaml"
    resources:
        mem_mb=mem_from_input(1000, 20),
    params:
        code=code_hash("classify"),
        schemes=lambda wc: digest(STUDIES[wc.study]["schemes"]),
        data_label=lambda wc: STUDIES[wc.study].get("data_label", ""),
    script:
        "../scripts/classify.py"
