# Set-up and entry points. `make demo` and `make test` create the virtual environment if missing.
# torch/torchvision are pinned to the pair this machine serves from disk (no CUDA download);
# setup.py keeps ranges for users. basicsr 1.4.2 ships as an sdist whose setup.py imports torch,
# hence --no-build-isolation after torch is in.
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_PINS := torch==2.14.1 torchvision==0.29.1

.PHONY: demo test lint bench venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: setup.py
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q $(TORCH_PINS)
	$(PY) -m pip install -q --no-build-isolation basicsr==1.4.2
	$(PY) -m pip install -q --no-build-isolation -e '.[dev]' $(TORCH_PINS)
	touch $@

demo: venv
	$(PY) scripts/demo.py --out demo_output

test: venv
	$(PY) -m pytest -q -p no:cacheprovider tests

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) demo_output build *.egg-info
