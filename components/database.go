package components

import (
	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// The database the app uses, on both targets, and its users.
const (
	DatabaseName = "sudoku"
	DatabasePort = 3306
	// DatabaseUser is the app's user on the local stack, with every right on its database
	// (the MySQL image's MYSQL_USER), so that a developer may do anything there.
	DatabaseUser = "sudoku_user"
	// On AWS: Aurora's master user, whose password RDS manages in Secrets Manager and only
	// the release step reads; the app's user (SELECT, INSERT, UPDATE, DELETE); and the
	// migrator, which the release command runs as (the DDL that migrations need). The
	// release step creates the last two (the app image's db-users.php).
	DatabaseAdminUser    = "sudoku_admin"
	DatabaseAppUser      = "sudoku_app"
	DatabaseMigratorUser = "sudoku_migrator"
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
	// User is the app's database user: DatabaseUser locally, DatabaseAppUser on AWS.
	User pulumi.StringOutput `pulumi:"user"`
	// Password is the app user's password (secret).
	Password pulumi.StringOutput `pulumi:"password"`
	// URL is the app's DATABASE_URL (secret).
	URL pulumi.StringOutput `pulumi:"url"`

	// URLSecret is DATABASE_URL as a consumer's target takes it.
	URLSecret Secret
	// MigratorURLSecret is the release command's DATABASE_URL: the migrator's on AWS, the
	// app's own user locally.
	MigratorURLSecret Secret
	// AdminUser and AdminPassword are the administrator the release step creates the users
	// as (AWS only: AdminPassword is the RDS-managed master secret's password key).
	AdminUser     string
	AdminPassword Secret

	// Image, Container and Volume are the MySQL container and its data (Docker only).
	Image     *docker.Image
	Container *docker.Container
	Volume    *docker.Volume
	// awsDatabase holds the AWS side's child resources (database_aws.go): Cluster and
	// Credentials.
	awsDatabase
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

// databaseURL is user's Doctrine-style DATABASE_URL; it is secret because the password is.
func databaseURL(user string, password, host pulumi.StringInput, serverVersion string) pulumi.StringOutput {
	url := pulumi.Sprintf("mysql://%s:%s@%s:%d/%s?serverVersion=%s&charset=utf8mb4",
		user, password, host, DatabasePort, DatabaseName, serverVersion)
	return pulumi.ToSecret(url).(pulumi.StringOutput)
}
