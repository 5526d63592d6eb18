# berth: `make test` and `make demo` install what they need on a fresh Debian machine.
SHELL := /bin/bash
NODE_BIN := node_modules/.bin
# binary -> Debian package; installed only when the binary is missing. An entry whose "binary" is an
# absolute path (starts with /) is checked as a file instead (packages that ship data, not commands).
DEPS := runc:runc crun:crun conmon:conmon catatonit:catatonit ip:iproute2 nft:nftables openssl:openssl \
        setfattr:attr zstd:zstd script:bsdutils socat:socat
TEST_DEPS := docker-registry:docker-registry skopeo:skopeo umoci:umoci busybox:busybox-static htpasswd:apache2-utils debootstrap:debootstrap \
        ssh:openssh-client \
        /usr/share/gocode/src/github.com/opencontainers/runtime-spec/schema/config-schema.json:golang-github-opencontainers-specs-dev
# netavark (+ aardvark-dns for podman's user networks) is podman's network backend on the bridge benches;
# dockerd and netavark program iptables.
BENCH_DEPS := podman:podman /usr/bin/time:time dockerd:docker.io strace:strace iptables:iptables \
        /usr/lib/podman/netavark:netavark /usr/lib/podman/aardvark-dns:aardvark-dns

.PHONY: all deps test-deps bench-deps build test unit integration demo bench clean

all: build

define apt_missing
	@missing=""; for pair in $(1); do bin=$${pair%%:*}; pkg=$${pair##*:}; \
	  case $$bin in /*) [ -e $$bin ] || missing="$$missing $$pkg"; continue;; esac; \
	  command -v $$bin >/dev/null 2>&1 || [ -x /usr/sbin/$$bin ] || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; fi
endef

deps:
	$(call apt_missing,$(DEPS))

test-deps: deps
	$(call apt_missing,$(TEST_DEPS))

bench-deps: test-deps
	$(call apt_missing,$(BENCH_DEPS))

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# tsc type-checks and emits the library and the tests; the CLI runs from a one-file bundle
# (scripts/bundle.mjs says why).
build: node_modules/.installed
	$(NODE_BIN)/tsc -p tsconfig.json
	rm -rf dist/bundle
	node scripts/bundle.mjs
	@chmod +x bin/berth

unit: build
	node --test --test-concurrency=2 $$(find dist/test/unit -name '*.test.js' | sort)

integration: build test-deps
	node --test --test-concurrency=1 $$(find dist/test/integration -name '*.test.js' | sort)

test: build test-deps
	node --test --test-concurrency=2 $$(find dist/test/unit -name '*.test.js' | sort)
	node --test --test-concurrency=1 $$(find dist/test/integration -name '*.test.js' | sort)

demo: build test-deps
	node dist/scripts/demo.js

bench: build bench-deps
	node dist/bench/run.js

clean:
	rm -rf dist
