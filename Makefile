# pointea: set-up, tests and the main job. Every target sets up what it needs on a fresh machine.
#   make test   set everything up, then run the test suite on every core (what CI runs)
#   make demo   set up the core (no torch-cluster build), then train and test on the synthetic default data
#   make demo-partseg   the same for part segmentation
#   make demo-normals   the same for normal estimation (with PCA normals on the same test clouds)
#   make demo-scene   the same for semantic segmentation of whole procedural rooms
#   make bench  set everything up, then the external vs self-attention benchmark
#   make setup  set everything up (the core, torch-cluster built from source, dev extras, Debian packages)

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch is pinned: on these machines 2.13.0 is the local CPU build; an unpinned torch pulls CUDA.
TORCH := torch==2.13.0
TORCH_CLUSTER := torch-cluster==1.6.3
# Debian libraries open3d needs to import (libusb) and to render headless (software Vulkan), and
# a virtual X server so the tests can open the interactive viewer window on machines without a display.
SYSTEM_PACKAGES := libusb-1.0-0 libvulkan1 mesa-vulkan-drivers xvfb
# Two stages. CORE (torch and pointea's own dependencies, all wheels: about a minute) is all the
# demos need: without torch-cluster pointea samples with its pure-torch FPS/kNN, which pick the same
# points. STAMP adds what the tests, the benchmark and real training want: torch-cluster built from
# source (about 11 minutes on 2 cores the first time), the dev extras and the Debian packages.
CORE := $(VENV)/.core
STAMP := $(VENV)/.installed
# Compile jobs for the torch-cluster build (these machines have 2 cores). torch-cluster 1.6.3's
# setup.py turns torch's ninja builder off (BuildExtension use_ninja=False), so neither ninja nor
# MAX_JOBS reaches its compiler; what does is setuptools' own `build_ext --parallel`, which builds
# its 9 extensions (fps, knn, grid, ...) BUILD_JOBS at a time. pip passes no build_ext options
# through, so they go in an extra setuptools config file named by DIST_EXTRA_CONFIG. MAX_JOBS is
# set too, for any torch extension that does build with ninja.
BUILD_JOBS ?= 2
BUILD_CONFIG := $(VENV)/build_ext.cfg
# pytest-xdist workers for `make test`: auto is one per core; PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= auto

.PHONY: setup test demo demo-partseg demo-normals demo-scene bench system-packages clean

setup: $(STAMP)

$(CORE): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# One pip run; no up-front bytecode compilation of torch's thousands of modules (Python
	# compiles what it imports, once).
	$(BIN)/python -m pip install --quiet --no-compile $(TORCH) -e .
	touch $@

$(STAMP): $(CORE)
	$(MAKE) system-packages
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	# torch-cluster ships only as source: build it against the installed torch (pip caches the
	# wheel), BUILD_JOBS extensions at a time (see BUILD_JOBS above).
	printf '[build_ext]\nparallel = $(BUILD_JOBS)\n' > $(BUILD_CONFIG)
	DIST_EXTRA_CONFIG=$(CURDIR)/$(BUILD_CONFIG) MAX_JOBS=$(BUILD_JOBS) \
		$(BIN)/python -m pip install --quiet --no-build-isolation $(TORCH_CLUSTER)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

system-packages:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		echo "installing Debian packages: $$missing"; \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# Every test, slow ones included (CI runs them all); the quick local loop is
# `.venv/bin/python -m pytest -n auto -m "not slow"`.
test: $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS)

demo: $(CORE)
	$(BIN)/pointea fit --config configs/demo.yaml
	$(BIN)/pointea test --config configs/demo.yaml --ckpt_path best

demo-partseg: $(CORE)
	$(BIN)/pointea fit --config configs/demo_partseg.yaml
	$(BIN)/pointea test --config configs/demo_partseg.yaml --ckpt_path best

demo-scene: $(CORE)
	$(BIN)/pointea fit --config configs/demo_scene.yaml
	$(BIN)/pointea test --config configs/demo_scene.yaml --ckpt_path best

bench: $(STAMP)
	$(BIN)/pointea-bench

clean:
	rm -rf $(VENV) *.egg-info

# Normal estimation on the synthetic analytic surfaces, then PCA normals on the same test clouds.
demo-normals: $(CORE)
	$(BIN)/pointea fit --config configs/demo_normals.yaml
	$(BIN)/pointea test --config configs/demo_normals.yaml --ckpt_path best
	$(BIN)/python -m pointea.bench.normals_pca --config configs/demo_normals.yaml
