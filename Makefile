# apache_secfilter: the test suite, the Debian packages and their install test.
#
#   make test           the whole suite, as CI runs it (apache/run-tests.sh, as root)
#   make deb            dist/deb/*.deb: dpkg-buildpackage -us -uc -b on a copy of the tree
#   make lint-deb       lintian on them: no error, no warning
#   make install-test   the .deb files in a fresh Debian 12 root (debootstrap, as root):
#                       a2enmod secfilter, configtest, the article's attack gets 500
#   make build-deps     install what deb, lint-deb and install-test need (as root)
#
# DEBDIR=DIR puts the packages elsewhere; DEB_BUILD_OPTIONS=nocheck skips the
# build-time tests (the conformance battery under Debian's libraries).

DEBDIR ?= dist/deb

.PHONY: test deb lint-deb install-test build-deps

test:
	bash apache/run-tests.sh

build-deps:
	bash tests/packaging/install-build-deps.sh

deb:
	bash tests/packaging/build-debs.sh $(DEBDIR)

lint-deb: deb
	lintian --fail-on error,warning --info $(DEBDIR)/*.changes

install-test: deb
	bash tests/packaging/install-test.sh $(DEBDIR)
