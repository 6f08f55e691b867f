//go:build sudoku_local

package components

// A build for local stacks only (-tags sudoku_local, which scripts/local.sh sets through
// GOFLAGS) leaves out every file of the AWS side, and with them the pulumi-aws SDK: the
// components keep their shape, without the AWS child resources those files declare.
type (
	awsNetwork      struct{}
	awsDatabase     struct{}
	awsCache        struct{}
	awsMercureHub   struct{}
	awsPhpService   struct{}
	awsLoadBalancer struct{}
)
