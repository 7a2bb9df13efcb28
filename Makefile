# lxcrs: build, install, demo, test.
#   make demo   set up everything, install, and boot a container (the main job)
#   make test   the whole test suite (as root: unit + end-to-end)
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
SHAREDIR  ?= $(PREFIX)/share/lxc
CARGO     ?= cargo
TOOLS     := attach cgroup config console create destroy execute freeze info ls start stop unfreeze update-config wait

.PHONY: all deps build install uninstall demo test unit e2e clean

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

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/lxcrs $(DESTDIR)$(BINDIR)/lxcrs-monitor
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

clean:
	$(CARGO) clean
