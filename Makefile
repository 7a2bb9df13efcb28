# lxcrs: build, install, demo, test.
#   make demo   set up everything, install, and boot a container (the main job)
#   make test   the whole test suite (as root: unit + end-to-end)
#   make bench  lxcrs vs LXC side by side (as root), writes BENCHMARKS.md
#   make soak   the load tests at full size (as root), with figures
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
SHAREDIR  ?= $(PREFIX)/share/lxc
CARGO     ?= cargo

.PHONY: all deps build install uninstall demo test unit e2e release-e2e soak bench clean

all: build

deps:
	./scripts/deps.sh

# The tools: the CLI (`lxcrs`, every lxc-* is a link to it) static-pie, as each command
# is a short process whose start is a large share of its time (no dynamic loading: about
# 0.5 ms less per command); the monitor and lxcrs-net dynamic, as those stay running and
# share libc's pages with the rest of the host. All in target/dist, with the lxc-* links.
HOST      := $(shell rustc -vV 2>/dev/null | sed -n 's/^host: //p')
DIST      := target/dist

build:
	$(CARGO) build --release --bins
	RUSTFLAGS="$(RUSTFLAGS) -C target-feature=+crt-static" LIBSECCOMP_LINK_TYPE=static \
	  LIBSECCOMP_LIB_PATH="$$(pkg-config --variable=libdir libseccomp)" \
	  $(CARGO) build --release --target $(HOST) --bin lxcrs
	install -d $(DIST)
	install -m 0755 target/$(HOST)/release/lxcrs $(DIST)/lxcrs
	install -m 0755 target/release/lxcrs-monitor target/release/lxcrs-net $(DIST)/
	# The lxc-* links: the binary knows its tools (`lxcrs --list-tools`).
	for t in $$($(DIST)/lxcrs --list-tools); do ln -sf lxcrs $(DIST)/$$t; done

install: build
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SHAREDIR)/templates $(DESTDIR)$(SHAREDIR)/config
	install -m 0755 $(DIST)/lxcrs $(DIST)/lxcrs-monitor $(DESTDIR)$(BINDIR)/
	for t in $$($(DIST)/lxcrs --list-tools); do ln -sf lxcrs $(DESTDIR)$(BINDIR)/$$t; done
	install -m 0755 templates/templates/* $(DESTDIR)$(SHAREDIR)/templates/
	cp -r templates/config/. $(DESTDIR)$(SHAREDIR)/config/
	find $(DESTDIR)$(SHAREDIR)/config -type f -name '*.conf' -exec sed -i 's|@LXCSHARE@|$(SHAREDIR)|g' {} +
	# Distro templates (Debian's lxc-templates) include /usr/share/lxc/config/*.conf by
	# absolute path: provide ours there when no LXC package does.
	if [ ! -e $(DESTDIR)/usr/share/lxc/config/common.conf ]; then \
	  install -d $(DESTDIR)/usr/share/lxc/config && cp -r templates/config/. $(DESTDIR)/usr/share/lxc/config/ && \
	  find $(DESTDIR)/usr/share/lxc/config -type f -name '*.conf' -exec sed -i 's|@LXCSHARE@|/usr/share/lxc|g' {} + ; fi
	install -d $(DESTDIR)/etc/lxc
	[ -e $(DESTDIR)/etc/lxc/default.conf ] || install -m 0644 templates/default.conf $(DESTDIR)/etc/lxc/default.conf
	# The default NAT network (lxcbr0, LXC's lxc-net): the command, its unit (not
	# enabled: `systemctl enable --now lxcrs-net`), and its settings unless present.
	install -m 0755 $(DIST)/lxcrs-net $(DESTDIR)$(BINDIR)/lxcrs-net
	install -d $(DESTDIR)/etc/systemd/system $(DESTDIR)/etc/lxcrs
	sed 's|@BINDIR@|$(BINDIR)|g' network/data/lxcrs-net.service > $(DESTDIR)/etc/systemd/system/lxcrs-net.service
	chmod 0644 $(DESTDIR)/etc/systemd/system/lxcrs-net.service
	[ -e $(DESTDIR)/etc/lxcrs/lxc-net.toml ] || install -m 0644 network/data/lxc-net.toml $(DESTDIR)/etc/lxcrs/lxc-net.toml
	if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi

uninstall:
	# Every lxc-* that is a link to our binary (an LXC install's own tools stay).
	for l in $(DESTDIR)$(BINDIR)/lxc-*; do [ "$$(readlink "$$l")" = lxcrs ] && rm -f "$$l"; done; true
	rm -f $(DESTDIR)$(BINDIR)/lxcrs $(DESTDIR)$(BINDIR)/lxcrs-monitor $(DESTDIR)$(BINDIR)/lxcrs-net
	rm -f $(DESTDIR)/etc/systemd/system/lxcrs-net.service
	rm -rf $(DESTDIR)$(SHAREDIR)

demo: deps install
	./scripts/demo.sh

# Unit tests in parallel, then the end-to-end suite one test at a time (its leak
# check compares host state before and after each test).
test: unit e2e release-e2e

unit:
	$(CARGO) test --workspace --exclude lxcrs-tests

# The debug tools with failpoints (tests/tests/faults.rs needs them; never in `build`).
e2e:
	$(CARGO) build --bins --features lxcrs-tools/failpoints
	LXCRS_REQUIRE_ROOT=$${LXCRS_REQUIRE_ROOT:-$$( [ "$$(id -u)" = 0 ] && echo 1 || echo 0 )} \
	$(CARGO) test -p lxcrs-tests -- --test-threads=1

# The release tools as `make install` installs them (static CLI, see build), through
# the lifecycle and attach tests: the e2e suite above runs the debug build.
release-e2e: build
	LXCRS_BIN_DIR=$(CURDIR)/$(DIST) \
	LXCRS_REQUIRE_ROOT=$${LXCRS_REQUIRE_ROOT:-$$( [ "$$(id -u)" = 0 ] && echo 1 || echo 0 )} \
	$(CARGO) test -p lxcrs-tests --test runtime_lifecycle --test runtime_attach -- --test-threads=1

# The load tests at full size (tests/tests/load.rs): 1,000 start/stop cycles, then 50
# containers under 5,000 random commands; prints the figures. Not part of `test`.
soak:
	$(CARGO) build --bins --features lxcrs-tools/failpoints
	LXCRS_LOAD_CYCLES=1000 LXCRS_LOAD_CONTAINERS=50 LXCRS_LOAD_OPS=5000 \
	LXCRS_REQUIRE_ROOT=$${LXCRS_REQUIRE_ROOT:-$$( [ "$$(id -u)" = 0 ] && echo 1 || echo 0 )} \
	$(CARGO) test -p lxcrs-tests --test load -- --test-threads=1 --nocapture

# Benchmarks against Debian's real LXC, measured alternately in one run (bench/bench.py;
# BENCH_ARGS e.g. "--only busybox,ls --runs 10"). Separate from the tests.
bench: build
	BENCH_CMD="sudo make bench$(if $(BENCH_ARGS), BENCH_ARGS='$(BENCH_ARGS)')" python3 bench/bench.py $(BENCH_ARGS)

clean:
	$(CARGO) clean
