// Command argo-lint is `argo lint --offline --strict` of the Argo Workflows module pinned in
// tools/argo/go.mod, without the rest of the argo CLI (its server and UI): the same offline API
// client (references resolve from the files given) and the same cmd/argo/lint code, which calls
// workflow/validate as the workflow-controller and the Argo Server do on submission.
//
//	argo-lint FILE_OR_FOLDER...
//
// Exit 0: every manifest passed; exit 1: a lint error (printed); exit 2: bad usage.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/argoproj/argo-workflows/v3/cmd/argo/lint"
	wf "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow"
	"github.com/argoproj/argo-workflows/v3/pkg/apiclient"
)

func main() {
	files := os.Args[1:]
	if len(files) == 0 {
		fmt.Fprintln(os.Stderr, "usage: argo-lint FILE_OR_FOLDER...")
		os.Exit(2)
	}
	ctx, client, err := apiclient.NewClientFromOpts(apiclient.Opts{
		Offline: true, OfflineFiles: files, Context: context.Background(),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "argo-lint:", err)
		os.Exit(1)
	}
	kinds := []string{wf.WorkflowPlural, wf.WorkflowTemplatePlural, wf.CronWorkflowPlural, wf.ClusterWorkflowTemplatePlural}
	opts := lint.LintOptions{Files: files, Strict: true, DefaultNamespace: "default", Printer: os.Stdout}
	// RunLint exits 1 itself when a manifest fails
	if err := lint.RunLint(ctx, client, kinds, "simple", true, opts); err != nil {
		fmt.Fprintln(os.Stderr, "argo-lint:", err)
		os.Exit(1)
	}
}
