#!/usr/bin/env bash
# Builds the real Traefik v3 proxy from its Go module (served by the Go module proxy), for
# the request-mirroring benchmark (bench/gateway/bench_mirror.py). Envoy cannot be built
# here; Traefik's file provider offers a `mirroring` service equivalent to Gateway API
# RequestMirror.
# usage: scripts/gateway/build-traefik.sh [DEST_DIR] [VERSION]
#        (default: .cache/traefik/bin, v3.7.13)   -> prints the traefik path
# `go install ...@version` refuses modules whose go.mod has replace directives, so the module
# source is downloaded, copied to a writable folder and built there with -mod=mod.
set -euo pipefail
dest="${1:-.cache/traefik/bin}"
version="${2:-v3.7.13}"
module="github.com/traefik/traefik/v3"
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
bin="$dest/traefik"
if [ -x "$bin" ] && "$bin" version >/dev/null 2>&1; then
  echo "$bin"; exit 0
fi
src_root="$(dirname "$dest")/src"

lego_module() {  # module@version of lego required by the go.mod given
  awk '$1 ~ /^github.com\/go-acme\/lego\// {print $1 "@" $2; exit}' "$1"
}
if ! GOBIN="$dest" CGO_ENABLED=0 go install "$module/cmd/traefik@$version" >&2; then
  echo "go install refused; building from the downloaded module source" >&2
  moddir=$(go mod download -json "$module@$version" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
  rm -rf "$src_root"
  mkdir -p "$src_root"
  cp -r "$moddir" "$src_root/traefik"
  chmod -R u+w "$src_root/traefik"
  # The nested module ./pkg/config/dynamic/ext (empty extension points of the dynamic
  # configuration, replaced in go.mod) is not part of the published module zip.
  ext="$src_root/traefik/pkg/config/dynamic/ext"
  mkdir -p "$ext"
  printf 'module github.com/traefik/traefik/dynamic/ext\n\ngo 1.24.0\n' >"$ext/go.mod"
  cat >"$ext/ext.go" <<'GO'
package ext

// HTTP extends dynamic.HTTP (nothing in the open-source build).
type HTTP struct{}

// Router extends dynamic.Router (nothing in the open-source build).
type Router struct{}

// RouterIng extends the ingress provider's router annotations.
type RouterIng struct{}

// ToRouter converts the annotations' extension to a Router extension.
func (RouterIng) ToRouter() Router { return Router{} }
GO
  # lego's ACME DNS providers depend on SDKs the module proxy refuses to serve (akamai,
  # huaweicloud, oci, ucloud, yandex, sacloud...): a local copy of lego gets a provider
  # registry that knows none of them (ACME is unused by the benchmark).
  lego_dir=$(go mod download -json "$(lego_module "$src_root/traefik/go.mod")" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
  cp -r "$lego_dir" "$src_root/lego"
  chmod -R u+w "$src_root/lego"
  rm -f "$src_root/lego/providers/dns/"*.go
  cat >"$src_root/lego/providers/dns/zz_gen_dns_providers.go" <<'GO'
package dns

import (
	"fmt"

	"github.com/go-acme/lego/v5/challenge"
)

// NewDNSChallengeProviderByName knows no provider in this build.
func NewDNSChallengeProviderByName(name string) (challenge.Provider, error) {
	return nil, fmt.Errorf("DNS provider %q not built in", name)
}
GO
  lego_path=$(lego_module "$src_root/traefik/go.mod" | cut -d@ -f1)
  (cd "$src_root/traefik" && go mod edit -replace "$lego_path=../lego")
  # The containous fork of go-http-auth (basic/digest auth middlewares) is not served
  # either: a local copy of upstream abbot/go-http-auth v0.4.0 stands in for it, with the
  # two functions the fork adds written here (auth is unused by the benchmark).
  auth_dir=$(go mod download -json github.com/abbot/go-http-auth@v0.4.0 \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
  cp -r "$auth_dir" "$src_root/go-http-auth"
  chmod -R u+w "$src_root/go-http-auth"
  {
    printf 'module github.com/abbot/go-http-auth\n\ngo 1.16\n\nrequire (\n'
    awk '$1 == "golang.org/x/crypto" || $1 == "golang.org/x/net" {print "\t" $1 " " $2}' \
      "$src_root/traefik/go.mod"
    printf ')\n'
  } >"$src_root/go-http-auth/go.mod"
  cat >"$src_root/go-http-auth/fork_compat.go" <<'GO'
package auth

import (
	"net/http"
	"strings"
)

// CheckSecret tells whether password matches the htpasswd-style secret.
func CheckSecret(password, secret string) bool {
	compare := compareFuncs[0].compare
	for _, candidate := range compareFuncs[1:] {
		if strings.HasPrefix(secret, candidate.prefix) {
			compare = candidate.compare
			break
		}
	}
	return compare([]byte(secret), []byte(password)) == nil
}

// RequireAuthStale asks for credentials again (without the stale flag in this build).
func (a *DigestAuth) RequireAuthStale(w http.ResponseWriter, r *http.Request) {
	a.RequireAuth(w, r)
}
GO
  (cd "$src_root/traefik" && go mod edit \
    -replace github.com/abbot/go-http-auth=../go-http-auth)
  pkg_version="$module/pkg/version"
  ldflags="-X $pkg_version.Version=$version -X $pkg_version.BuildDate=$(date -u +%FT%TZ)"
  (cd "$src_root/traefik" && CGO_ENABLED=0 go build -mod=mod -ldflags "$ldflags" \
    -o "$bin" ./cmd/traefik)
fi
"$bin" version >&2
echo "$bin"
