# Analyse: eligibility flow, ADTTE endpoints, Kaplan-Meier estimates and tests, and the
# curves the figures draw (curves.parquet, the time-dependent tables): render computes nothing.
# A checkpoint: which forest plots exist depends on which Cox models were fitted (a refused
# model gets no figure, only its reason in the tables and the report).


checkpoint analyse:
    input:
        patients=f"{RESULTS}/{{study}}/harmonised/patients.parquet",
        groups=f"{RESULTS}/{{study}}/classify/risk_groups.parquet",
        responses=f"{RESULTS}/{{study}}/harmonised/responses.parquet",
        reconciliations=lambda wc: per_site(
            wc.study, "quarantine/{site}.reconciliation.json"
        ),
    output:
        cohort=f"{RESULTS}/{{study}}/analyse/cohort.parquet",
        adtte=f"{RESULTS}/{{study}}/analyse/adtte.parquet",
        survival=f"{RESULTS}/{{study}}/analyse/survival.csv",
        strata=f"{RESULTS}/{{study}}/analyse/strata.csv",
        tests=f"{RESULTS}/{{study}}/analyse/tests.csv",
        flow=f"{RESULTS}/{{study}}/analyse/flow.csv",
        set_aside=f"{RESULTS}/{{study}}/analyse/set_aside.csv",
        eligibility=f"{RESULTS}/{{study}}/analyse/eligibility.csv",
        response_rates=f"{RESULTS}/{{study}}/analyse/response_rates.csv",
        response_counts=f"{RESULTS}/{{study}}/analyse/response_counts.csv",
        cox=f"{RESULTS}/{{study}}/analyse/cox.csv",
        cif=f"{RESULTS}/{{study}}/analyse/cif.csv",
        rmst=f"{RESULTS}/{{study}}/analyse/rmst.csv",
        landmark=f"{RESULTS}/{{study}}/analyse/landmark.parquet",
        simon_makuch=f"{RESULTS}/{{study}}/analyse/simon_makuch.parquet",
        simon_makuch_at_risk=f"{RESULTS}/{{study}}/analyse/simon_makuch_at_risk.csv",
        curves=f"{RESULTS}/{{study}}/analyse/curves.parquet",
    log:
        f"{RESULTS}/{{study}}/logs/analyse.log",
    conda:
        "../envs/cohortflow.yaml"
    resources:
        mem_mb=mem_from_input(2000, 30),
        runtime=60,
    params:
        code=code_hash("analyse"),
        study=lambda wc: analyse_slice(STUDIES[wc.study]),
    script:
        "../scripts/analyse.py"
