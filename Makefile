# Two entry points on a fresh machine: `make demo` and `make test` (each installs what it needs first).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
APT_PACKAGES := bubblewrap dataset-fashion-mnist chromium
INSTALLED := $(VENV)/.installed
DATA := data/.prepared

.PHONY: install demo test validate system-packages clean-data

install: $(INSTALLED) $(DATA)

# Debian packages: bubblewrap (the sandbox), FashionMNIST (offline data), chromium (report tests).
system-packages:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$([ $$(id -u) -eq 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

$(INSTALLED): pyproject.toml constraints.txt autograder/torchvision_compat.py | system-packages
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e . 2>&1 | grep -v "^WARNING: Location" || true
	$(PY) -c 'import torch, nbgrader, nbclient, rich' # fail here, not later, if the install is incomplete
	# torchvision 0.28.0 on PyPI is built for CUDA torch; this shim lets it import beside the CPU wheel
	site=$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') && \
	  cp autograder/torchvision_compat.py $$site/torchvision_cpu_compat.py && \
	  echo "import torchvision_cpu_compat" > $$site/torchvision_cpu_compat.pth && \
	  $(PY) -m py_compile $$site/torchvision_cpu_compat.py
	$(PY) -c 'import torchvision.datasets'
	touch $@

$(DATA): autograder/datasets.py | $(INSTALLED)
	$(PY) -m autograder.datasets --root data
	touch $@

demo: install
	$(VENV)/bin/autograder demo

validate: install
	$(VENV)/bin/autograder validate

test: install
	$(VENV)/bin/autograder validate
	$(PY) -m pytest -q tests

clean-data:
	rm -rf data
