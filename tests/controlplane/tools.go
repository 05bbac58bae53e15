//go:build tools

// Package tools records the binaries built by build.sh so that `go mod tidy`
// keeps their modules in go.mod/go.sum. It is never compiled.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "sigs.k8s.io/gateway-api/apis/v1"
	_ "sigs.k8s.io/kwok/cmd/kwok"
)
