# tenement: build, test and package.
#
#   make build      dist/ten and dist/ten-isolate (static, CGO_ENABLED=0, -trimpath, version stamped)
#   make test       scripts/test: vet, staticcheck, gofmt, benchmarks once, go test -race (as root)
#   make package    dist/*.deb and dist/*.rpm with nfpm (nfpm.yaml)
#   make deps       scripts/deps: what building and testing need (Debian 12, root)
#
# VERSION defaults to the git tag vX.Y.Z on HEAD, else 0.0.0~gitYYYYMMDD.HASH
# (sorts before any release). Override: make package VERSION=1.2.3 DIST=out
# A release version (one without "~") needs its entry "1.2.3-1" in
# packaging/changelog.yml, the packages' changelog.

DIST    ?= dist
ARCH    ?= $(shell go env GOARCH)
NFPM    ?= nfpm
VERSION ?= $(shell v=$$(git describe --tags --match 'v[0-9]*' --exact-match 2>/dev/null) && echo "$${v\#v}" || \
	{ d=$$(git log -1 --format=%cd --date=format:%Y%m%d 2>/dev/null) && echo "0.0.0~git$$d.$$(git rev-parse --short=8 HEAD)"; } || \
	echo 0.0.0~dev)
LDFLAGS := -s -w -X github.com/tenement/tenement/internal/cli.version=$(VERSION)

export PATH := $(PATH):/usr/local/bin:$(HOME)/go/bin

.PHONY: all build test package deb rpm deps clean
all: build

build:
	CGO_ENABLED=0 GOARCH=$(ARCH) go build -trimpath -ldflags '$(LDFLAGS)' -o $(DIST)/ten ./cmd/ten
	CGO_ENABLED=0 GOARCH=$(ARCH) go build -trimpath -ldflags '-s -w' -o $(DIST)/ten-isolate ./cmd/ten-isolate

test:
	scripts/test

package: deb rpm

deb rpm: build
	@case '$(VERSION)' in *~*) ;; *) grep -q '^- semver: $(VERSION)-1$$' packaging/changelog.yml || \
		{ echo "packaging/changelog.yml has no entry for $(VERSION)-1: add one to release $(VERSION)" >&2; exit 1; };; esac
	rm -f $(DIST)/tenement[_-]*.$@
	VERSION='$(VERSION)' ARCH='$(ARCH)' TEN_BIN='$(DIST)/ten' $(NFPM) pkg --config nfpm.yaml --packager $@ --target $(DIST)/

deps:
	scripts/deps

clean:
	rm -rf $(DIST)
