//go:build tools

// Package tools pins KServe for the tests that run the real serving controller: the KServe
// controller-manager (the InferenceService reconciler and its webhooks: the pod mutator that injects
// the storage initializer, the InferenceService defaulter and validator) on the kwok control plane of
// tools/cluster. Nothing imports this package; tools/kserve/build builds the command from these
// versions.
package tools

import (
	_ "github.com/kserve/kserve/cmd/manager"
)
