# lxcrs: build, install, demo, test.
#   make demo   set up everything, install, and boot a container (the main job)
#   make test   the whole test suite (as root: unit + end-to-end)
#   make bench  lxcrs vs LXC side by side (as root), writes BENCHMARKS.md
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
SHAREDIR  ?= $(PREFIX)/share/lxc
CARGO     ?= cargo
TOOLS     := attach cgroup config console copy create destroy device execute freeze info ls snapshot start stop unfreeze update-config wait

.PHONY: all deps build install uninstall demo test unit e2e bench clean

all: build

deps:
	./scripts/deps.sh

build:
	$(CARGO) build --release --bins

install: build
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SHAREDIR)/templates $(DESTDIR)$(SHAREDIR)/config
	install -m 0755 target/release/lxcrs $(DESTDIR)$(BINDIR)/lxcrs
	if [ -f target/release/lxcrs-monitor ]; then install -m 0755 target/release/lxcrs-monitor $(DESTDIR)$(BINDIR)/lxcrs-monitor; fi
	for t in $(TOOLS); do ln -sf lxcrs $(DESTDIR)$(BINDIR)/lxc-$$t; done
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
	install -m 0755 target/release/lxcrs-net $(DESTDIR)$(BINDIR)/lxcrs-net
	install -d $(DESTDIR)/etc/systemd/system $(DESTDIR)/etc/lxcrs
	sed 's|@BINDIR@|$(BINDIR)|g' network/data/lxcrs-net.service > $(DESTDIR)/etc/systemd/system/lxcrs-net.service
	chmod 0644 $(DESTDIR)/etc/systemd/system/lxcrs-net.service
	[ -e $(DESTDIR)/etc/lxcrs/lxc-net.toml ] || install -m 0644 network/data/lxc-net.toml $(DESTDIR)/etc/lxcrs/lxc-net.toml
	if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/lxcrs $(DESTDIR)$(BINDIR)/lxcrs-monitor $(DESTDIR)$(BINDIR)/lxcrs-net
	rm -f $(DESTDIR)/etc/systemd/system/lxcrs-net.service
	for t in $(TOOLS); do rm -f $(DESTDIR)$(BINDIR)/lxc-$$t; done
	rm -rf $(DESTDIR)$(SHAREDIR)

demo: deps install
	./scripts/demo.sh

# Unit tests in parallel, then the end-to-end suite one test at a time (its leak
# check compares host state before and after each test).
test: unit e2e

unit:
	$(CARGO) test --workspace --exclude lxcrs-tests

e2e:
	$(CARGO) build --bins
	LXCRS_REQUIRE_ROOT=$${LXCRS_REQUIRE_ROOT:-$$( [ "$$(id -u)" = 0 ] && echo 1 || echo 0 )} \
	$(CARGO) test -p lxcrs-tests -- --test-threads=1

# Benchmarks against Debian's real LXC, measured alternately in one run (bench/bench.py;
# BENCH_ARGS e.g. "--only busybox,ls --runs 10"). Separate from the tests.
bench: build
	BENCH_CMD="sudo make bench$(if $(BENCH_ARGS), BENCH_ARGS='$(BENCH_ARGS)')" python3 bench/bench.py $(BENCH_ARGS)

clean:
	$(CARGO) clean
