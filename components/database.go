package components

import (
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/rds"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/secretsmanager"
	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// The database the app uses, on both targets.
const (
	DatabaseName = "sudoku"
	DatabaseUser = "sudoku_user"
	DatabasePort = 3306
)

// Database is the app's MySQL database: a MySQL 8.4 container locally, an Aurora MySQL
// (8.0-compatible) cluster on AWS.
type Database struct {
	pulumi.ResourceState

	// Host is the writer's host name.
	Host pulumi.StringOutput `pulumi:"host"`
	// ReaderHost is the read-only endpoint; on Docker it is the same as Host.
	ReaderHost pulumi.StringOutput `pulumi:"readerHost"`
	// Port is the MySQL port, 3306.
	Port pulumi.IntOutput `pulumi:"port"`
	// Name is the database name, "sudoku".
	Name pulumi.StringOutput `pulumi:"name"`
	// User is the app's database user, "sudoku_user".
	User pulumi.StringOutput `pulumi:"user"`
	// Password is the app user's password (secret).
	Password pulumi.StringOutput `pulumi:"password"`
	// URL is the app's DATABASE_URL (secret).
	URL pulumi.StringOutput `pulumi:"url"`

	// URLSecret is DATABASE_URL as a consumer's target takes it.
	URLSecret Secret

	// Image, Container and Volume are the MySQL container and its data (Docker only).
	Image     *docker.Image
	Container *docker.Container
	Volume    *docker.Volume
	// Cluster and Credentials are the Aurora cluster and its Secrets Manager secret (AWS only).
	Cluster     *rds.Cluster
	Credentials *secretsmanager.Secret
}

func (d *Database) registerOutputs(ctx *pulumi.Context) error {
	return ctx.RegisterResourceOutputs(d, pulumi.Map{
		"host":       d.Host,
		"readerHost": d.ReaderHost,
		"port":       d.Port,
		"name":       d.Name,
		"user":       d.User,
		"password":   d.Password,
		"url":        d.URL,
	})
}

// databaseURL is the Doctrine-style DATABASE_URL; it is secret because the password is.
func databaseURL(password, host pulumi.StringInput, serverVersion string) pulumi.StringOutput {
	url := pulumi.Sprintf("mysql://%s:%s@%s:%d/%s?serverVersion=%s&charset=utf8mb4",
		DatabaseUser, password, host, DatabasePort, DatabaseName, serverVersion)
	return pulumi.ToSecret(url).(pulumi.StringOutput)
}
