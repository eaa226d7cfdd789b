# Two commands do all set-up on a fresh Debian machine:
#   make demo   - the main job: a training run you can watch, then its report
#   make test   - the whole test suite against a real Docker engine and real git
VENV ?= .venv
PY := $(VENV)/bin/python
FNFORGE := $(VENV)/bin/fnforge

.PHONY: demo test venv machine image bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q -U pip
	$(PY) -m pip install -q -e '.[test,ray,mlflow]'
	touch $@

venv: $(VENV)/.installed

machine:
	bash scripts/setup-machine.sh

image: venv machine
	$(FNFORGE) sandbox build

demo: venv
	-bash scripts/setup-machine.sh --optional
	$(FNFORGE) demo --out demo-run

test: venv machine image
	$(PY) -m pytest -q

bench: venv image
	for b in benchmarks/*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) demo-run build dist *.egg-info
