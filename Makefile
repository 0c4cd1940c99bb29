# Set-up and entry points. `make demo` and `make test` create the virtual environment if missing.
# torch/torchvision are pinned to the pair this machine serves from disk (no CUDA download);
# setup.py keeps ranges for users. basicsr 1.4.2 ships as an sdist whose setup.py imports torch,
# hence --no-build-isolation after torch is in.
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_PINS := torch==2.14.1 torchvision==0.29.1

.PHONY: demo demo-check test lint venv clean scorers mini-table1 which-method

venv: $(VENV)/.installed

$(VENV)/.installed: setup.py
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q $(TORCH_PINS)
	$(PY) -m pip install -q --no-build-isolation basicsr==1.4.2
	$(PY) -m pip install -q --no-build-isolation -e '.[dev]' $(TORCH_PINS)
	touch $@

demo: venv
	$(VENV)/bin/basicsr-distill demo --out demo_output

# Checks what the demo states on any machine (basicsr_distill/demo_record.json: each row's PSNR within the tolerance
# measured with nudged initial weights, the recorded gaps between rows less twice that tolerance, the top-k
# sub-images; no ordering of the rows, whose differences are within the noise). PERTURB=1 runs the demo with
# every initial weight nudged by one unit in the last place (another machine's rounding) in demo_output_perturbed.
demo-check: venv
	$(VENV)/bin/basicsr-distill demo --check $(if $(PERTURB),--perturb --out demo_output_perturbed,--out demo_output)

# Train and ship the six Y-channel scorers (SRCNN x2 -> x3 -> x4, FSRCNN x3 -> x2, x4) from options/scorer/.
# SHARED: a folder with T91/HR, Set5/HR, Set14/HR.
SHARED ?= ../shared/datasets
SCORERS := SRCNN_x2 SRCNN_x3 SRCNN_x4 FSRCNN_x3 FSRCNN_x2 FSRCNN_x4
scorers: venv
	for set in T91 Set5 Set14; do $(PY) scripts/prepare_benchmark.py --input $(SHARED)/$$set/HR --output datasets/$$set --scales 2 3 4 || exit 2; done
	for row in $(SCORERS); do \
		arch=$${row%_x*}; scale=$${row#*_x}; \
		$(PY) -m basicsr_distill.train -opt options/scorer/train_$$row.yml --auto_resume || exit 2; \
		$(PY) scripts/ship_scorer.py --experiment experiments/$${arch}_Y_x$${scale}_T91 || exit 2; \
	done

mini-table1: venv
	$(VENV)/bin/basicsr-distill study --shared $(SHARED) --seeds 5 --perturb-check full des50 --budget-minutes 300 \
		--record bench/results --figures docs/figures

# "Which method at 10%" (README): random, loss-ranked and IDC-condensed 10% sets against full data, 3 seeds, with the
# quarter-iteration and 4x-iteration rows (idc25 is a row too; not in the recorded run, for time).
which-method: venv
	$(VENV)/bin/basicsr-distill study --shared $(SHARED) --question which-method --seeds 3 --jobs 2 --budget-minutes 200 \
		--rows random10 des10 idc10 des10_quarter_iters idc10_quarter_iters full_4x random10_4x des10_4x idc10_4x srdd \
		--record bench/results --figures docs/figures

test: venv
	$(PY) -m pytest -q -p no:cacheprovider -n 2 tests  # two workers (pytest-xdist): the machine's two cores

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) demo_output demo_output_perturbed build *.egg-info
