# cohortflow: site CRF submissions -> harmonised data -> risk groups -> survival outputs.
# Rules live in rules/*.smk (one file per stage); logic lives in the cohortflow package.
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "schemas/config.schema.json")


# `snakemake --report report.zip`: every figure and table, captioned, grouped by study
report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/ingest.smk"
include: "rules/validate.smk"
include: "rules/dq.smk"
include: "rules/harmonise.smk"
include: "rules/classify.smk"
include: "rules/analyse.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        all_outputs(),
