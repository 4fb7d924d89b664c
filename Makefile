# docker-vic: build, install, test and demo.
#   make build install   build the binaries into bin/ and install the docker CLI plugin
#   make test            set up this machine, vet, cross-build, unit tests with -race, then the end-to-end runs
#   make cross           build the CLI plugin for macOS and Windows (the tree must stay portable)
#   make testbed-up      a VCH wired on this machine with vic-endpoint serving (scripts/testbed.sh)
#   make demo            set up this machine and walk through `docker vic` against vcsim
#   make appliance       build bin/appliance.iso, the endpoint VM's boot image (cached; scripts/appliance.sh)
#   make appliance-smoke boot it under qemu and reach its Docker API over TLS (appliance/smoke)
#   make e2e-appliance   docker vic create a VCH that boots, on the testbed's appliance mode
#   make plugin          build the drivers as a Docker managed plugin in bin/plugin (scripts/plugin.sh)
#   make e2e-plugin      run that plugin on a private Docker engine (scripts/e2e-plugin.sh, scripts/nodes.sh)
#   make e2e-swarm       three private engines in one swarm, the plugin on each (scripts/e2e-swarm.sh)

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
export PATH := /usr/local/go/bin:$(PATH)

DOCKER_CONFIG ?= $(HOME)/.docker
PLUGIN_DIR := $(DOCKER_CONFIG)/cli-plugins
# PKGS narrows vet and unit tests, e.g. `make test PKGS=./vcsim/...`.
PKGS ?= ./...
# VERSION is what `docker vic version` reports.
VERSION ?= 0.1.0-dev
LDFLAGS := -X main.version=$(VERSION)
GO_TEST_LOG := bin/go-test.log
E2E_LOG := bin/e2e-vch.log
E2E_ENDPOINT_LOG := bin/e2e-endpoint.log
REL_LOG := bin/e2e-reliability.log
APPLIANCE_LOG := bin/e2e-appliance.log
CROSS_LOG := bin/cross.log
PLUGIN_LOG := bin/e2e-plugin.log
SWARM_LOG := bin/e2e-swarm.log

.PHONY: all build install test unit cross e2e e2e-endpoint testbed-up testbed-down demo bench clean appliance appliance-smoke e2e-appliance plugin e2e-plugin e2e-swarm

all: build

build:
	@mkdir -p bin
	go build -ldflags '$(LDFLAGS)' -o bin/docker-vic ./cli-plugin
	go build -o bin/vcsim ./vcsim
	$(if $(wildcard endpoint/cmd/vic-endpoint/*.go),go build -ldflags '$(LDFLAGS)' -o bin/vic-endpoint ./endpoint/cmd/vic-endpoint)
	go build -o bin/vic-testbed ./scripts/testbed

# The appliance image, when `make appliance` built it, goes beside the plugin, where
# `docker vic create` finds it by default.
install: build
	install -D -m 0755 bin/docker-vic "$(PLUGIN_DIR)/docker-vic"
	@if [ -f bin/appliance.iso ]; then \
		install -D -m 0644 bin/appliance.iso "$(PLUGIN_DIR)/docker-vic.d/appliance.iso"; \
		echo "installed $(PLUGIN_DIR)/docker-vic.d/appliance.iso"; \
	fi
	@echo "installed $(PLUGIN_DIR)/docker-vic: try 'docker vic --help'"

# test runs every stage even when one fails, then ends with one summary of all of them.
test:
	@bash scripts/setup.sh
	@mkdir -p bin
	@vet=0 cross=0 unit=0 e2e=0 endpoint=0 rel=0 appl=0 plg=0 swm=0; \
	echo '== go vet $(PKGS)'; go vet $(PKGS) || vet=1; \
	echo '== scripts/cross.sh'; \
	bash scripts/cross.sh 2>&1 | tee $(CROSS_LOG) || cross=1; \
	echo '== go test -race -count=1 $(PKGS)'; \
	go test -race -count=1 $(PKGS) 2>&1 | tee $(GO_TEST_LOG) || unit=1; \
	echo '== scripts/e2e-vch.sh'; \
	bash scripts/e2e-vch.sh 2>&1 | tee $(E2E_LOG) || e2e=1; \
	echo '== scripts/e2e-endpoint.sh'; \
	bash scripts/e2e-endpoint.sh 2>&1 | tee $(E2E_ENDPOINT_LOG) || endpoint=1; \
	echo '== scripts/e2e-reliability.sh'; \
	bash scripts/e2e-reliability.sh 2>&1 | tee $(REL_LOG) || rel=1; \
	echo '== scripts/e2e-appliance.sh'; \
	{ VERSION=$(VERSION) bash scripts/appliance.sh bin/appliance.iso && bash scripts/e2e-appliance.sh; } 2>&1 \
		| tee $(APPLIANCE_LOG) || appl=1; \
	echo '== scripts/e2e-plugin.sh'; \
	{ bash scripts/e2e-plugin.sh && bash scripts/test-vicplugin.sh; } 2>&1 | tee $(PLUGIN_LOG) || plg=1; \
	echo '== scripts/e2e-swarm.sh'; \
	bash scripts/e2e-swarm.sh 2>&1 | tee $(SWARM_LOG) || swm=1; \
	. scripts/lib.sh; test_summary $$vet $$unit $$e2e $(GO_TEST_LOG) $(E2E_LOG) \
		$$cross $(CROSS_LOG) $$endpoint $(E2E_ENDPOINT_LOG) $$rel $(REL_LOG) $$appl $(APPLIANCE_LOG) $$plg $(PLUGIN_LOG) \
		$$swm $(SWARM_LOG)

unit:
	go test -race -count=1 $(PKGS)

# cross checks the portability rule: the CLI plugin builds for macOS and Windows.
cross:
	bash scripts/cross.sh

e2e:
	bash scripts/e2e-vch.sh

# e2e-endpoint brings the testbed up, drives the vic drivers through the local Docker engine and
# takes the testbed down again.
e2e-endpoint: build
	@bash scripts/setup.sh
	bash scripts/e2e-endpoint.sh

# testbed-up prints export lines: eval "$$(make -s testbed-up)".
testbed-up: build
	@bash scripts/setup.sh >&2
	@bash scripts/testbed.sh up

testbed-down:
	bash scripts/testbed.sh down

demo: build
	@bash scripts/setup.sh
	bash scripts/demo.sh

# bench measures the vic driver against Docker's bridge on the testbed and writes BENCHMARKS.md.
bench:
	@bash scripts/setup.sh
	bash scripts/bench.sh

# appliance rebuilds the ISO only when appliance/packages.list or the Go code changed.
appliance:
	@bash scripts/setup.sh
	VERSION=$(VERSION) bash scripts/appliance.sh bin/appliance.iso

# e2e-appliance boots the VCH that `docker vic create` makes from bin/appliance.iso (built
# first, cached) under qemu on the testbed's appliance mode, and drives it as a user would.
e2e-appliance: build appliance
	bash scripts/e2e-appliance.sh

# plugin assembles bin/plugin (config.json and rootfs/) for `docker plugin create`.
plugin:
	VERSION=$(VERSION) bash scripts/plugin.sh bin/plugin

# e2e-plugin runs the managed plugin on a private Docker engine (scripts/e2e-plugin.sh, which
# builds bin/plugin itself).
e2e-plugin:
	@bash scripts/setup.sh
	bash scripts/e2e-plugin.sh
	bash scripts/test-vicplugin.sh

# e2e-swarm runs three private engines in one swarm with the plugin on each (scripts/e2e-swarm.sh).
e2e-swarm:
	@bash scripts/setup.sh
	bash scripts/e2e-swarm.sh

appliance-smoke: appliance
	VIC_APPLIANCE_ISO=$(CURDIR)/bin/appliance.iso VIC_REQUIRE_PRIVILEGED=1 go test -count=1 -v -timeout 20m ./appliance/smoke

clean:
	rm -rf bin coverage.out coverage.html *.coverprofile
