//go:build tools

// Package tools pins the Kubernetes control plane the tests in tests/cluster run against: etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and kwok (fake nodes and pods).
// Nothing imports this package; tools/cluster/build builds the commands from these versions.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "sigs.k8s.io/kwok/cmd/kwok"
)
