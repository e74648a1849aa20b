# airgap.registry — the README's two commands are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
COLLECTIONS := $(VENV)/collections
SAMPLES := .cache/samples
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/$(COLLECTIONS)
export PATH := $(CURDIR)/$(BIN):$(PATH):/usr/sbin:/sbin

.PHONY: run test test-unit test-integration lint sanity molecule bench system engine images clean collection wheel

## The main job: bundled registry on 127.0.0.1:5000, seeded with the sample images, catalog printed.
run: $(VENV)/.stamp
	$(PY) scripts/make_samples.py $(SAMPLES) >/dev/null
	$(BIN)/ansible-playbook -i inventories/localhost playbooks/site.yml

## The whole suite: system packages, engine, images, lint, sanity, unit, integration, molecule.
test: system $(VENV)/.stamp engine images lint sanity
	AIRGAP_REQUIRE_ALL=1 $(BIN)/pytest tests/unit tests/integration; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc
	$(MAKE) molecule

## Fast subset for developers: no engine, no system packages.
test-unit: $(VENV)/.stamp
	$(BIN)/pytest tests/unit

test-integration: $(VENV)/.stamp engine images
	AIRGAP_REQUIRE_ALL=1 $(BIN)/pytest tests/integration

lint: $(VENV)/.stamp
	$(BIN)/ruff check .
	$(BIN)/ansible-lint --profile production --offline roles playbooks
	$(BIN)/antsibull-changelog lint

sanity: $(VENV)/.stamp
	scripts/sanity.sh

molecule: $(VENV)/.stamp engine images
	scripts/molecule.sh

bench: $(VENV)/.stamp system engine images
	$(PY) bench/run.py

system:
	scripts/setup-system.sh

engine:
	scripts/dockerd.sh start

images:
	scripts/build-images.sh
	scripts/fleet-image.sh

collection: $(VENV)/.stamp
	$(BIN)/ansible-galaxy collection build --force --output-path build/

## The airgap-registry wheel (pyregistry, airgap-seed and the module_utils they use) in dist/, which the registry
## role installs with registry_pyregistry_install: package.
wheel: $(VENV)/.stamp
	rm -f dist/airgap_registry-*.whl
	$(BIN)/pip wheel -q --disable-pip-version-check --no-deps -w dist .

$(VENV)/.stamp: requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --config-settings editable_mode=compat -e .
	$(PY) -m compileall -q airgap_cli pyregistry plugins >/dev/null
	mkdir -p $(COLLECTIONS)/ansible_collections/airgap
	ln -sfn $(CURDIR) $(COLLECTIONS)/ansible_collections/airgap/registry
	echo "$(CURDIR)/$(COLLECTIONS)" > $$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/airgap_collections.pth
	touch $@

clean:
	rm -rf $(VENV) build dist .cache .pytest_cache .ruff_cache
