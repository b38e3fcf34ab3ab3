// spark-operator built from the Go module proxy: the same commands as
// github.com/kubeflow/spark-operator/v2/cmd/operator (whose main package cannot be imported).
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/kubeflow/spark-operator/v2/cmd/operator/controller"
	"github.com/kubeflow/spark-operator/v2/cmd/operator/version"
)

func main() {
	command := &cobra.Command{
		Use:   "spark-operator",
		Short: "Spark operator",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	command.AddCommand(controller.NewCommand())
	command.AddCommand(version.NewCommand())
	if err := command.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
