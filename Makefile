# cohortflow: `make run` runs every bundled study; `make test` runs the whole test suite.
# the first supported interpreter found (3.11 is what CI uses; 3.12 and 3.13 are accepted)
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3.13 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CORES  ?= 2
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: run test test-slurm lint setup bench bench-scale bench-stats clean slurm-plugin cluster-up cluster-down cluster-status run-slurm-local

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) cohortflow/core/pyversion.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@# Hangul glyphs in figures and report screenshots: Debian fonts-nanum (installed when missing and possible)
	@test -f /usr/share/fonts/truetype/nanum/NanumGothic.ttf || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends fonts-nanum >/dev/null; } || echo "note: install the Debian package fonts-nanum for Hangul glyphs in figures"
	@# the cohortflow package is used in place (like an editable install, without a build step)
	$(BIN)/python -c "import pathlib, site; pathlib.Path(site.getsitepackages()[0], 'cohortflow.pth').write_text('$(CURDIR)\n')"
	touch $(STAMP)

# Snakemake's SLURM executor plugin (profiles/slurm); the test suite runs it on a local cluster
SLURM_STAMP := $(VENV)/.slurm-installed
slurm-plugin: $(SLURM_STAMP)
$(SLURM_STAMP): $(STAMP) requirements-slurm.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-slurm.txt
	touch $(SLURM_STAMP)

run: $(STAMP)
	@# a stale lock of a killed run is removed and reported; incomplete outputs are rebuilt
	$(BIN)/python -m cohortflow.core.recovery --cores $(CORES)
	@echo "Outputs: results/<study>/ (tables/, figures/, manifest.json)"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile rules
	$(BIN)/snakemake --lint --cores 1

test: $(STAMP) $(SLURM_STAMP) lint
	$(BIN)/python -m pytest -q

# Only the SLURM end-to-end test (part of `make test`; a local single-node cluster, which
# installs slurm-wlm and munge as root when missing)
test-slurm: $(STAMP) $(SLURM_STAMP)
	$(BIN)/python -m pytest -q -rs tests/test_slurm.py

# A single-node SLURM cluster on this machine (root; installs slurm-wlm and munge if missing)
cluster-up:
	scripts/slurm/local_cluster.sh up
cluster-down:
	scripts/slurm/local_cluster.sh down
cluster-status:
	scripts/slurm/local_cluster.sh status
# Both studies through profiles/slurm on the local cluster (`make cluster-up` first)
run-slurm-local: $(SLURM_STAMP)
	SLURM_CONF=$$(scripts/slurm/local_cluster.sh env | cut -d= -f2) \
	  $(BIN)/snakemake --profile profiles/slurm --workflow-profile profiles/slurm-local

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

# Registry scale (synthetic registries, one table); SCALES="10x100" for a quick look.
SCALES ?= 10x100 20x5000 100x10000
bench-scale: $(STAMP)
	$(BIN)/python benchmarks/bench_scale.py --scales $(SCALES)

# KM, log-rank, Cox, Aalen-Johansen, Gray, Mantel-Byar and time-dependent Cox on 1M patients.
bench-stats: $(STAMP)
	$(BIN)/python benchmarks/bench_stats.py

clean:
	rm -rf results restricted .snakemake
