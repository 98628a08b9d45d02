//go:build tools

// Package tools pins Argo Workflows for the tests that run the real engine: the workflow-controller
// (tests/cluster, on the kwok control plane of tools/cluster) and its validator (cmd/argo-lint, the
// code path of `argo lint --offline`). Nothing imports this package; tools/argo/build builds the
// commands from these versions.
package tools

import (
	_ "github.com/argoproj/argo-workflows/v3/cmd/workflow-controller"
)
