# One command for the main job (make lab) and one for the tests (make test).
# The venv is made on first use. TORCH is installed before everything else, so that no
# other package pulls a different torch build; a CUDA user may set TORCH="torch".
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install lab test bench gallery notebooks clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e ".[all]"
	touch $(STAMP)

install: $(STAMP)

# JupyterLab refuses to run as root without --allow-root (containers, cloud VMs): pass it then.
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

lab: $(STAMP)
	@port=$$(echo " $(LAB_ARGS)" | sed -n 's/.*--\(ServerApp\.\)\{0,1\}port[= ]*\([0-9][0-9]*\).*/\2/p'); \
	echo "JupyterLab on notebooks/: open the http://127.0.0.1:$${port:-8888}/lab?token=... URL it prints below"
	@echo "(from another machine: make lab LAB_ARGS=\"--ip=0.0.0.0 --no-browser\", then the printed URL with this host's name)"
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(ROOT_FLAG) $(LAB_ARGS)

# one pytest-xdist worker per core of a 2-core laptop, each test file whole in one worker (its
# fixtures built once); every worker computes on one thread (tests/conftest.py). TEST_WORKERS=0: serial.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m bench.run_all

gallery: $(STAMP)
	$(PY) scripts/gallery.py
	$(PY) scripts/page_shots.py

# notebooks/*.ipynb from their readable sources, notebooks/src/*.py (a second run changes nothing)
notebooks: $(STAMP)
	$(PY) scripts/build_notebooks.py

clean:
	rm -rf $(VENV) .pytest_cache
