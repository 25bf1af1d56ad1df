# pgpsendmail: build, test, demo, install.
#   make demo   the whole job on this machine, with nothing but the Rust toolchain
#   make test   every test (lint, unit, integration, gpg interop, streaming)
#   make test-fast  the same without the 200 MiB streaming test and without the tests
#                   against real software (Postfix, mail programs, decryptors)

CARGO   ?= cargo
PREFIX  ?= /usr/local
DESTDIR ?=
SBINDIR  = $(PREFIX)/sbin
MANDIR   = $(PREFIX)/share/man
DEMO     = target/demo

.PHONY: all build release deb demo test test-fast lint bench bench-gateway bench-keys fuzz install uninstall \
	install-sendmail uninstall-sendmail clean

all: build

build:
	$(CARGO) build --bins --examples

release:
	$(CARGO) build --release --bins

# The Debian package, target/deb/pgpsendmail_VERSION_ARCH.deb (scripts/make-deb): installs
# without taking over /usr/sbin/sendmail; `pgpsendmail-takeover install` does that, and
# removing the package undoes it.
deb: release
	sh scripts/make-deb

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps --quiet

# The integration tests run last, so that the closing line is theirs. tests/system.rs runs
# alone: as root with Postfix it takes over this machine's /usr/sbin/sendmail for a while.
# tests/mta.rs runs every MTA at once, each in a Debian tree of its own under target/mta
# (built on first use with mmdebstrap, then reused) and private namespaces.
test: lint build
	$(CARGO) test --lib --bins --test docs --test streaming
	$(CARGO) test --test system -- --test-threads=1
	$(CARGO) test --test mta -- --test-threads=8
	$(CARGO) test --test integration

test-fast: lint build
	$(CARGO) test --lib --bins --test docs
	PGPSENDMAIL_NO_REAL=1 $(CARGO) test --test integration

# The main job, end to end: a cron mail is piped to pgpsendmail, which encrypts it to the
# demo key and hands it to a stand-in sendmail that stores what it gets under target/demo/;
# then the demo secret key opens it again.
demo: build
	@rm -rf $(DEMO) && mkdir -p $(DEMO)/mail
	@printf 'sendmail = "%s"\nkeyring = ["%s"]\n\n[recipients]\n"root" = { alias = "admin@demo.example" }\n' \
		"$(CURDIR)/target/debug/examples/stand_in_sendmail" "$(CURDIR)/examples/demo-key.asc" \
		> $(DEMO)/pgpsendmail.toml
	@echo "--- cron pipes its mail: sendmail -FCronDaemon -i -B8BITMIME -oem root < examples/cron-mail.eml"
	@PGPSENDMAIL_CONFIG=$(DEMO)/pgpsendmail.toml STAND_IN_DIR=$(DEMO)/mail \
		target/debug/pgpsendmail -FCronDaemon -i -B8BITMIME -oem root < examples/cron-mail.eml
	@echo "--- the stand-in sendmail was called as: $$(tr '\n' ' ' < $(DEMO)/mail/1.argv)"
	@echo
	@target/debug/examples/demo_decrypt examples/demo-key.sec.asc $(DEMO)/mail/1.stdin

# Key lookup per message with 1,000, 10,000 and 100,000 certificates (a benchmark, not a
# test: the keyrings are generated once under target/bench-keys/).
bench-keys:
	$(CARGO) run --release --example bench_keys

# pgpsendmail against `gpg --encrypt --armor | sendmail` in one run (bench/README.md):
# needs gpg and openssl, and gnuplot for the plot; installs nothing. Then 1,000 hidden
# recipients, one run of the real sendmail per copy against -bs sessions, one at a time
# and one per CPU at once, and the real sendmail alone (bench_copies).
bench:
	$(CARGO) build --release --bins --examples
	target/release/examples/bench
	target/release/examples/bench_keys --make 1000
	target/release/examples/bench_copies

# pgpsendmail serve, the pipe(8) sendmail face and a gpg pipe in a private Postfix on
# loopback, driven by smtp-source (bench/README.md, "make bench-gateway"): needs root,
# postfix and gpg, and gnuplot for the plot; about 15 minutes.
bench-gateway:
	$(CARGO) build --release --bins --examples
	target/release/examples/bench_gateway

# Every cargo-fuzz target in fuzz/ (args, header, address, keyring, keybox, and smtp, the
# -bs reader) for FUZZ_SECONDS each, at nice 15, on the stable toolchain
# (fuzz/run.sh; needs `cargo install cargo-fuzz`). Findings: fuzz/artifacts/, fuzz/RESULTS.md.
FUZZ_SECONDS ?= 60
fuzz:
	fuzz/run.sh $(FUZZ_SECONDS)

install: release
	install -D -m 0755 target/release/pgpsendmail $(DESTDIR)$(SBINDIR)/pgpsendmail
	install -D -m 0644 man/pgpsendmail.8 $(DESTDIR)$(MANDIR)/man8/pgpsendmail.8
	install -D -m 0644 man/pgpsendmail.toml.5 $(DESTDIR)$(MANDIR)/man5/pgpsendmail.toml.5
	install -d -m 0755 $(DESTDIR)/etc/pgpsendmail/keys
	install -d -m 0755 $(DESTDIR)/var/cache/pgpsendmail
	install -d -m 0755 $(DESTDIR)/var/lib/pgpsendmail/discovered

# Make the installed pgpsendmail the system's /usr/sbin/sendmail (as root): a dpkg
# diversion on Debian, a higher-priority mta alternative where alternatives manage it, or
# the symlink taken over; the real sendmail's new path goes into the configuration.
# uninstall-sendmail puts back exactly what was there. See scripts/sendmail-takeover.
install-sendmail: install
	@if [ -n "$(DESTDIR)" ]; then echo "install-sendmail changes this system: no DESTDIR"; exit 1; fi
	PGPSENDMAIL=$(SBINDIR)/pgpsendmail sh scripts/sendmail-takeover install
	@$(SBINDIR)/pgpsendmail check; status=$$?; echo; \
	if [ $$status -eq 0 ]; then \
		echo "pgpsendmail is installed as /usr/sbin/sendmail, and check found all well."; \
	else \
		echo "pgpsendmail is installed as /usr/sbin/sendmail (check exited $$status, see above)."; \
		echo "next: put your recipients' keys in /etc/pgpsendmail/keys (pgpsendmail keys import FILE),"; \
		echo "      map local names such as root in /etc/pgpsendmail/pgpsendmail.toml, [recipients],"; \
		echo "      and run pgpsendmail check again (exit 0: all well)."; \
	fi

uninstall-sendmail:
	PGPSENDMAIL=$(SBINDIR)/pgpsendmail sh scripts/sendmail-takeover uninstall

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/pgpsendmail $(DESTDIR)$(MANDIR)/man8/pgpsendmail.8 \
		$(DESTDIR)$(MANDIR)/man5/pgpsendmail.toml.5
	@echo "left in place: /etc/pgpsendmail (configuration and keys), /var/cache/pgpsendmail (key index),"
	@echo "/var/lib/pgpsendmail/discovered (keys fetch and keys refresh),"
	@echo "and, if make install-sendmail ran, /var/lib/pgpsendmail/sendmail-takeover: run"
	@echo "make uninstall-sendmail first to put /usr/sbin/sendmail back; remove the rest by hand."

clean:
	$(CARGO) clean
