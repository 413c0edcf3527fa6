# Report: tables, figures and the manifest of a study.


rule descriptive_table:
    input:
        cohort=f"{RESULTS}/{{study}}/analyse/cohort.parquet",
        set_aside=f"{RESULTS}/{{study}}/analyse/set_aside.csv",
    output:
        csv=f"{RESULTS}/{{study}}/tables/{{table}}.csv",
        md=f"{RESULTS}/{{study}}/tables/{{table}}.md",
        html=report(
            f"{RESULTS}/{{study}}/tables/{{table}}.html",
            caption="../report/descriptive_table.rst",
            category="{study}",
            subcategory="Tables",
            labels={"table": "{table}", "format": "HTML"},
        ),
        docx=f"{RESULTS}/{{study}}/tables/{{table}}.docx",
    log:
        f"{RESULTS}/{{study}}/logs/table_{{table}}.log",
    group:
        "report_{study}"
    conda:
        "../envs/cohortflow.yaml"
    params:
        code=code_hash("descriptive_table"),
        study=lambda wc: table_slice(STUDIES[wc.study], wc.table),
    script:
        "../scripts/descriptive_table.py"


rule survival_tables:
    input:
        survival=f"{RESULTS}/{{study}}/analyse/survival.csv",
        strata=f"{RESULTS}/{{study}}/analyse/strata.csv",
        tests=f"{RESULTS}/{{study}}/analyse/tests.csv",
        flow=f"{RESULTS}/{{study}}/analyse/flow.csv",
        response_rates=f"{RESULTS}/{{study}}/analyse/response_rates.csv",
        response_counts=f"{RESULTS}/{{study}}/analyse/response_counts.csv",
        set_aside=f"{RESULTS}/{{study}}/analyse/set_aside.csv",
    output:
        md=f"{RESULTS}/{{study}}/tables/survival.md",
        html=report(
            f"{RESULTS}/{{study}}/tables/survival.html",
            caption="../report/survival_table.rst",
            category="{study}",
            subcategory="Tables",
            labels={"table": "survival", "format": "HTML"},
        ),
        docx=f"{RESULTS}/{{study}}/tables/survival.docx",
        flow=f"{RESULTS}/{{study}}/tables/flow.md",
        flow_docx=f"{RESULTS}/{{study}}/tables/flow.docx",
        responses_md=f"{RESULTS}/{{study}}/tables/response_rates.md",
        responses_html=report(
            f"{RESULTS}/{{study}}/tables/response_rates.html",
            caption="../report/response_table.rst",
            category="{study}",
            subcategory="Tables",
            labels={"table": "response_rates", "format": "HTML"},
        ),
        responses_docx=f"{RESULTS}/{{study}}/tables/response_rates.docx",
    log:
        f"{RESULTS}/{{study}}/logs/survival_tables.log",
    group:
        "report_{study}"
    conda:
        "../envs/cohortflow.yaml"
    params:
        code=code_hash("survival_tables"),
        study=lambda wc: report_slice(STUDIES[wc.study]),
    script:
        "../scripts/survival_tables.py"


rule figure:
    input:
        cohort=f"{RESULTS}/{{study}}/analyse/cohort.parquet",
        adtte=f"{RESULTS}/{{study}}/analyse/adtte.parquet",
        tests=f"{RESULTS}/{{study}}/analyse/tests.csv",
        cox=f"{RESULTS}/{{study}}/analyse/cox.csv",
        curves=f"{RESULTS}/{{study}}/analyse/curves.parquet",
        simon_makuch=f"{RESULTS}/{{study}}/analyse/simon_makuch.parquet",
        simon_makuch_at_risk=f"{RESULTS}/{{study}}/analyse/simon_makuch_at_risk.csv",
    output:
        png=report(
            f"{RESULTS}/{{study}}/figures/{{figure}}.png",
            caption="../report/figure.rst",
            category="{study}",
            subcategory="Figures",
            labels={"figure": "{figure}", "format": "PNG"},
        ),
        pdf=f"{RESULTS}/{{study}}/figures/{{figure}}.pdf",
        svg=f"{RESULTS}/{{study}}/figures/{{figure}}.svg",
    log:
        f"{RESULTS}/{{study}}/logs/figure_{{figure}}.log",
    group:
        "report_{study}"
    conda:
        "../envs/cohortflow.yaml"
    params:
        code=code_hash("figure"),
        study=lambda wc: figure_slice(STUDIES[wc.study], wc.figure),
    script:
        "../scripts/figure.py"


rule model_tables:
    input:
        cox=f"{RESULTS}/{{study}}/analyse/cox.csv",
        cif=f"{RESULTS}/{{study}}/analyse/cif.csv",
        tests=f"{RESULTS}/{{study}}/analyse/tests.csv",
        set_aside=f"{RESULTS}/{{study}}/analyse/set_aside.csv",
        rmst=f"{RESULTS}/{{study}}/analyse/rmst.csv",
    output:
        rmst_md=f"{RESULTS}/{{study}}/tables/rmst.md",
        rmst_html=f"{RESULTS}/{{study}}/tables/rmst.html",
        cox_md=f"{RESULTS}/{{study}}/tables/cox.md",
        cox_html=report(
            f"{RESULTS}/{{study}}/tables/cox.html",
            caption="../report/cox_table.rst",
            category="{study}",
            subcategory="Tables",
            labels={"table": "cox", "format": "HTML"},
        ),
        cox_docx=f"{RESULTS}/{{study}}/tables/cox.docx",
        cr_md=f"{RESULTS}/{{study}}/tables/competing_risks.md",
        cr_html=report(
            f"{RESULTS}/{{study}}/tables/competing_risks.html",
            caption="../report/competing_risks_table.rst",
            category="{study}",
            subcategory="Tables",
            labels={"table": "competing_risks", "format": "HTML"},
        ),
        cr_docx=f"{RESULTS}/{{study}}/tables/competing_risks.docx",
    log:
        f"{RESULTS}/{{study}}/logs/model_tables.log",
    group:
        "report_{study}"
    conda:
        "../envs/cohortflow.yaml"
    params:
        code=code_hash("model_tables"),
        study=lambda wc: report_slice(STUDIES[wc.study]),
    script:
        "../scripts/model_tables.py"


rule workbook:
    input:
        unpack(workbook_inputs),
    output:
        xlsx=f"{RESULTS}/{{study}}/tables/tables.xlsx",
    log:
        f"{RESULTS}/{{study}}/logs/workbook.log",
    group:
        "report_{study}"
    conda:
        "../envs/cohortflow.yaml"
    params:
        code=code_hash("workbook"),
        study=lambda wc: report_slice(STUDIES[wc.study]),
    script:
        "../scripts/workbook.py"


rule consort:
    input:
        flow=f"{RESULTS}/{{study}}/analyse/flow.csv",
        set_aside=f"{RESULTS}/{{study}}/analyse/set_aside.csv",
        checks="config/checks.yaml",
    output:
        png=report(
            f"{RESULTS}/{{study}}/figures/consort.png",
            caption="../report/consort.rst",
            category="{study}",
            subcategory="Figures",
            labels={"figure": "consort", "format": "PNG"},
        ),
        pdf=f"{RESULTS}/{{study}}/figures/consort.pdf",
        svg=f"{RESULTS}/{{study}}/figures/consort.svg",
    log:
        f"{RESULTS}/{{study}}/logs/consort.log",
    group:
        "report_{study}"
    conda:
        "../envs/cohortflow.yaml"
    params:
        code=code_hash("consort"),
        study=lambda wc: label_slice(STUDIES[wc.study]),
    script:
        "../scripts/consort.py"


rule manifest:
    input:
        submissions=lambda wc: [
            STUDIES[wc.study]["site_mappings"][s]["file"] for s in sites(wc.study)
        ],
        ingest_meta=lambda wc: expand(
            f"{RESULTS}/{{study}}/ingest/{{site}}.json",
            study=wc.study,
            site=sites(wc.study),
        ),
        summaries=lambda wc: per_site(wc.study, "quarantine/{site}.reconciliation.json"),
        config_files=lambda wc: config_files(wc.study),
        outputs=lambda wc: study_outputs(wc.study),
    output:
        manifest=f"{RESULTS}/{{study}}/manifest.json",
    log:
        f"{RESULTS}/{{study}}/logs/manifest.log",
    group:
        "report_{study}"
    conda:
        "../envs/cohortflow.yaml"
    params:
        code=code_hash("manifest"),
        git=GIT_STATE,
        study=lambda wc: report_slice(STUDIES[wc.study]),
        config_files=lambda wc: digest(config_files(wc.study)),
        superseded=lambda wc: digest(superseded(wc.study)),
    script:
        "../scripts/manifest.py"


rule run_report:
    input:
        manifest=f"{RESULTS}/{{study}}/manifest.json",
        outputs=lambda wc: study_outputs(wc.study),
    output:
        html=report(
            f"{RESULTS}/{{study}}/report.html",
            caption="../report/run_report.rst",
            category="{study}",
            subcategory="Run report",
            labels={"report": "study run report", "format": "HTML"},
        ),
    log:
        f"{RESULTS}/{{study}}/logs/run_report.log",
    group:
        "report_{study}"
    conda:
        "../envs/cohortflow.yaml"
    params:
        code=code_hash("run_report"),
        study=lambda wc: report_slice(STUDIES[wc.study]),
    script:
        "../scripts/run_report.py"
