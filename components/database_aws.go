//go:build !sudoku_local

package components

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/rds"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/secretsmanager"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// AwsDatabaseArgs configures the Aurora MySQL cluster.
type AwsDatabaseArgs struct {
	// Runtime is the network, key, log retention and protection the stack shares; required.
	Runtime AwsRuntime
	// ClientSecurityGroupID is the only security group that may connect (the app's); required.
	ClientSecurityGroupID pulumi.StringInput
	// EngineVersion is the Aurora MySQL 3 version; default DefaultAuroraVersion.
	EngineVersion string
	// InstanceClass is the writer's and readers' class; default "db.t4g.medium".
	// "db.serverless" makes them Aurora Serverless v2, between MinAcu and MaxAcu.
	InstanceClass string
	// MinAcu and MaxAcu bound Serverless v2 capacity, in steps of 0.5 ACU (0 to 256); MaxAcu
	// defaults to 4. A MinAcu of 0 (its zero value) lets the idle cluster pause (Aurora MySQL
	// 3.08.0 or later).
	MinAcu, MaxAcu float64
	// AutoPauseMinutes is how long a Serverless v2 cluster with MinAcu 0 idles before it
	// pauses, 5 to 1440; default 30.
	AutoPauseMinutes int
	// Instances is the writer plus readers, each in the next AZ; default 2.
	Instances int
	// BackupRetentionDays keeps automated backups (point-in-time recovery); default 7.
	BackupRetentionDays int
	// SkipFinalSnapshot deletes the cluster without a final snapshot, and its automated
	// backups with it: for a throwaway stack only (default false: the cluster leaves a final
	// snapshot, and its automated backups stay for their retention).
	SkipFinalSnapshot bool
	// RestoreSnapshot, when set, is the DB cluster snapshot (identifier or ARN) the cluster is
	// created from, re-encrypted with the stack's key. The provider creates the cluster with
	// RestoreDBClusterFromSnapshot, then applies the backup settings, the Serverless v2
	// scaling and the RDS-managed master password with ModifyDBCluster
	// (terraform-provider-aws, internal/service/rds/cluster.go, resourceClusterCreate).
	// snapshot_identifier forces a new cluster when it is set or changed, and its removal is
	// ignored (its DiffSuppressFunc: new == "").
	RestoreSnapshot string
}

func (a AwsDatabaseArgs) withDefaults() AwsDatabaseArgs {
	a.Runtime = a.Runtime.withDefaults()
	if a.EngineVersion == "" {
		a.EngineVersion = DefaultAuroraVersion
	}
	if a.InstanceClass == "" {
		a.InstanceClass = "db.t4g.medium"
	}
	if a.Instances == 0 {
		a.Instances = 2
	}
	if a.BackupRetentionDays == 0 {
		a.BackupRetentionDays = 7
	}
	if a.MaxAcu == 0 {
		a.MaxAcu = 4
	}
	if a.AutoPauseMinutes == 0 {
		a.AutoPauseMinutes = 30
	}
	return a
}

// Serverless reports whether the instances are Aurora Serverless v2.
func (a AwsDatabaseArgs) Serverless() bool { return a.InstanceClass == ServerlessClass }

func (a AwsDatabaseArgs) validate() error {
	if err := a.Runtime.validate("database", false); err != nil {
		return err
	}
	if a.ClientSecurityGroupID == nil {
		return fieldError("database", "ClientSecurityGroupID", "set", "nil")
	}
	if a.Instances < 1 || a.Instances > 16 {
		return fieldError("database", "Instances", "1 to 16", a.Instances)
	}
	if a.BackupRetentionDays < 1 || a.BackupRetentionDays > 35 {
		return fieldError("database", "BackupRetentionDays", "1 to 35 (backups cannot be off)", a.BackupRetentionDays)
	}
	if a.Serverless() {
		if !ValidAcu(a.MinAcu) || !ValidAcu(a.MaxAcu) || a.MaxAcu < a.MinAcu || a.MaxAcu < 1 {
			return fieldError("database", "MinAcu and MaxAcu", "0 to 256 in steps of 0.5, MaxAcu at least 1 and MinAcu", fmt.Sprintf("%v and %v", a.MinAcu, a.MaxAcu))
		}
		if a.MinAcu == 0 && !AcuCanPause(a.EngineVersion) {
			return fieldError("database", "MinAcu", "at least 0.5 with engine "+a.EngineVersion+" (0 needs Aurora MySQL 3.08.0 or later)", a.MinAcu)
		}
		if a.AutoPauseMinutes < 5 || a.AutoPauseMinutes > 1440 {
			return fieldError("database", "AutoPauseMinutes", "5 to 1440", a.AutoPauseMinutes)
		}
	}
	return nil
}

// auroraLogs are the logs Aurora exports to CloudWatch: errors, slow queries, and an audit
// of logins and of changes to the schema and the grants (server_audit_events below).
var auroraLogs = []string{"audit", "error", "slowquery"}

// performanceInsightsDays keeps Performance Insights' data for 7 days, the free tier (and
// what Database Insights' standard mode keeps free since it took over the console in 2026).
const performanceInsightsDays = 7

// NewAwsDatabase creates an Aurora MySQL cluster in the private subnets: encrypted with the
// stack's key, TLS required, backed up, its logs exported with the stack's retention, its
// instances spread over the AZs, and its credentials in a Secrets Manager JSON secret.
func NewAwsDatabase(ctx *pulumi.Context, name string, args *AwsDatabaseArgs, opts ...pulumi.ResourceOption) (*Database, error) {
	a := args.withDefaults()
	if err := a.validate(); err != nil {
		return nil, err
	}
	d := &Database{}
	if err := ctx.RegisterComponentResource(typePrefix+"Database", name, d, opts...); err != nil {
		return nil, err
	}
	if err := newAurora(ctx, name, a, d); err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	return d, d.registerOutputs(ctx)
}

// enhancedMonitoringRole lets RDS publish the instances' OS metrics (Enhanced Monitoring).
func enhancedMonitoringRole(ctx *pulumi.Context, name string, rt AwsRuntime, parent pulumi.Resource) (*iam.Role, error) {
	role, err := iam.NewRole(ctx, name+"-monitoring", &iam.RoleArgs{
		Description:      pulumi.String("RDS Enhanced Monitoring of the sudoku database"),
		AssumeRolePolicy: serviceTrust("monitoring.rds.amazonaws.com", rt.Account, nil),
	}, pulumi.Parent(parent))
	if err != nil {
		return nil, err
	}
	_, err = iam.NewRolePolicyAttachment(ctx, name+"-monitoring", &iam.RolePolicyAttachmentArgs{
		Role:      role.Name,
		PolicyArn: pulumi.Sprintf("arn:%s:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole", rt.Account.Partition),
	}, pulumi.Parent(parent))
	return role, err
}

// serverlessScaling is the cluster's Serverless v2 capacity range, or nil for provisioned
// instances. With a minimum of 0, the cluster pauses after AutoPauseMinutes without
// connections and resumes on the next one, in about 15 seconds.
func serverlessScaling(a AwsDatabaseArgs) rds.ClusterServerlessv2ScalingConfigurationPtrInput {
	if !a.Serverless() {
		return nil
	}
	scaling := rds.ClusterServerlessv2ScalingConfigurationArgs{
		MinCapacity: pulumi.Float64(a.MinAcu),
		MaxCapacity: pulumi.Float64(a.MaxAcu),
	}
	if a.MinAcu == 0 {
		scaling.SecondsUntilAutoPause = pulumi.Int(a.AutoPauseMinutes * 60)
	}
	return scaling
}

// newAurora makes the Database's Aurora side: what the cluster needs (its security group,
// subnets, parameters, log groups, the users' passwords), the cluster, its instances, then
// the credentials, which wait for the writer.
func newAurora(ctx *pulumi.Context, name string, a AwsDatabaseArgs, d *Database) error {
	clusterID := physicalName(ctx, name)
	p, err := auroraPrerequisites(ctx, name, clusterID, a, d)
	if err != nil {
		return err
	}
	if d.Cluster, err = newAuroraCluster(ctx, name, clusterID, a, p, d); err != nil {
		return err
	}
	instances, err := newAuroraInstances(ctx, name, clusterID, a, p.subnets, d)
	if err != nil {
		return err
	}
	return auroraCredentials(ctx, name, a.Runtime, instances, p, d)
}

// auroraPrereqs are what the cluster is made with.
type auroraPrereqs struct {
	sg                            *ec2.SecurityGroup
	subnets                       *rds.SubnetGroup
	params                        *rds.ClusterParameterGroup
	logGroups                     []pulumi.Resource
	appPassword, migratorPassword pulumi.StringOutput
}

func auroraPrerequisites(ctx *pulumi.Context, name, clusterID string, a AwsDatabaseArgs, d *Database) (auroraPrereqs, error) {
	rt := a.Runtime
	var p auroraPrereqs
	sg, err := ec2.NewSecurityGroup(ctx, name+"-sg", &ec2.SecurityGroupArgs{
		VpcId:       rt.Network.ID,
		Description: pulumi.String("Aurora: MySQL from the app only"),
		Tags:        nameTag(physicalName(ctx, name)),
	}, pulumi.Parent(d))
	if err != nil {
		return p, err
	}
	p.sg = sg
	if err := allowTCP(ctx, name+"-from-app", a.ClientSecurityGroupID, sg.ID(), DatabasePort, "app to Aurora MySQL", d); err != nil {
		return p, err
	}
	if p.subnets, err = rds.NewSubnetGroup(ctx, name+"-subnets", &rds.SubnetGroupArgs{
		SubnetIds:   rt.Network.PrivateSubnetIDs,
		Description: pulumi.String("Aurora: private subnets only"),
	}, pulumi.Parent(d)); err != nil {
		return p, err
	}
	if p.params, err = rds.NewClusterParameterGroup(ctx, name+"-params", &rds.ClusterParameterGroupArgs{
		Family:      pulumi.String("aurora-mysql8.0"),
		Description: pulumi.String("sudoku: TLS required, utf8mb4, slow query and audit logs"),
		Parameters: rds.ClusterParameterGroupParameterArray{
			rds.ClusterParameterGroupParameterArgs{Name: pulumi.String("require_secure_transport"), Value: pulumi.String("ON")},
			rds.ClusterParameterGroupParameterArgs{Name: pulumi.String("character_set_server"), Value: pulumi.String("utf8mb4")},
			rds.ClusterParameterGroupParameterArgs{Name: pulumi.String("collation_server"), Value: pulumi.String("utf8mb4_unicode_ci")},
			rds.ClusterParameterGroupParameterArgs{Name: pulumi.String("slow_query_log"), Value: pulumi.String("1")},
			rds.ClusterParameterGroupParameterArgs{Name: pulumi.String("long_query_time"), Value: pulumi.String("1")},
			rds.ClusterParameterGroupParameterArgs{Name: pulumi.String("server_audit_logging"), Value: pulumi.String("1")},
			rds.ClusterParameterGroupParameterArgs{Name: pulumi.String("server_audit_events"), Value: pulumi.String("CONNECT,QUERY_DCL,QUERY_DDL")},
		},
	}, pulumi.Parent(d)); err != nil {
		return p, err
	}
	// Aurora would create its log groups itself, kept forever; creating them first (with
	// the names it uses) gives them the stack's retention.
	for _, log := range auroraLogs {
		g, err := rt.newLogGroup(ctx, name+"-log-"+log, fmt.Sprintf("/aws/rds/cluster/%s/%s", clusterID, log), d)
		if err != nil {
			return p, err
		}
		p.logGroups = append(p.logGroups, g)
	}
	if p.appPassword, err = newPassword(ctx, name+"-app-password", 32, d); err != nil {
		return p, err
	}
	p.migratorPassword, err = newPassword(ctx, name+"-migrator-password", 32, d)
	return p, err
}

func newAuroraCluster(ctx *pulumi.Context, name, clusterID string, a AwsDatabaseArgs, p auroraPrereqs, d *Database) (*rds.Cluster, error) {
	rt := a.Runtime
	exports := pulumi.StringArray{}
	for _, log := range auroraLogs {
		exports = append(exports, pulumi.String(log))
	}
	var finalSnapshot pulumi.StringPtrInput
	if !a.SkipFinalSnapshot {
		finalSnapshot = pulumi.String(clusterID + "-final")
	}
	var snapshot pulumi.StringPtrInput
	if a.RestoreSnapshot != "" {
		snapshot = pulumi.String(a.RestoreSnapshot)
	}
	return rds.NewCluster(ctx, name+"-cluster", &rds.ClusterArgs{
		ClusterIdentifier:  pulumi.String(clusterID),
		SnapshotIdentifier: snapshot,
		Engine:             pulumi.String("aurora-mysql"),
		EngineVersion:      pulumi.String(a.EngineVersion),
		DatabaseName:       pulumi.String(DatabaseName),
		MasterUsername:     pulumi.String(DatabaseAdminUser),
		// RDS generates the master password and keeps it in a Secrets Manager secret of its
		// own, encrypted with the stack's key, so it never enters Pulumi's state; only the
		// release step reads it, to create the app's users.
		ManageMasterUserPassword:    pulumi.Bool(true),
		MasterUserSecretKmsKeyId:    rt.KmsKeyArn,
		Port:                        pulumi.Int(DatabasePort),
		DbSubnetGroupName:           p.subnets.Name,
		VpcSecurityGroupIds:         pulumi.StringArray{p.sg.ID()},
		DbClusterParameterGroupName: p.params.Name,
		StorageEncrypted:            pulumi.Bool(true),
		KmsKeyId:                    rt.KmsKeyArn,
		BackupRetentionPeriod:       pulumi.Int(a.BackupRetentionDays),
		PreferredBackupWindow:       pulumi.String("02:00-03:00"),
		PreferredMaintenanceWindow:  pulumi.String("sun:03:30-sun:04:30"),
		CopyTagsToSnapshot:          pulumi.Bool(true),
		DeletionProtection:          pulumi.Bool(rt.Protect),
		// A deleted cluster's automated backups stay restorable for their retention.
		DeleteAutomatedBackups: pulumi.Bool(a.SkipFinalSnapshot),
		// IAM authentication is allowed (passwords still work); nothing uses it yet.
		IamDatabaseAuthenticationEnabled: pulumi.Bool(true),
		SkipFinalSnapshot:                pulumi.Bool(a.SkipFinalSnapshot),
		FinalSnapshotIdentifier:          finalSnapshot,
		EnabledCloudwatchLogsExports:     exports,
		Serverlessv2ScalingConfiguration: serverlessScaling(a),
	}, append(rt.stateful(d), pulumi.DependsOn(p.logGroups))...)
}

// newAuroraInstances makes the writer and the readers, each in another AZ.
func newAuroraInstances(ctx *pulumi.Context, name, clusterID string, a AwsDatabaseArgs, subnets *rds.SubnetGroup, d *Database) ([]*rds.ClusterInstance, error) {
	rt := a.Runtime
	monitoring, err := enhancedMonitoringRole(ctx, name, rt, d)
	if err != nil {
		return nil, err
	}
	azs := rt.Network.AvailabilityZones
	instances := make([]*rds.ClusterInstance, a.Instances)
	for i := range instances {
		instances[i], err = rds.NewClusterInstance(ctx, fmt.Sprintf("%s-%d", name, i+1), &rds.ClusterInstanceArgs{
			Identifier:        pulumi.Sprintf("%s-%d", clusterID, i+1),
			ClusterIdentifier: d.Cluster.ID(),
			Engine:            pulumi.String("aurora-mysql"),
			EngineVersion:     d.Cluster.EngineVersion,
			InstanceClass:     pulumi.String(a.InstanceClass),
			// The writer and each reader in a different AZ, so a failover has somewhere to go.
			AvailabilityZone:   pulumi.String(azs[i%len(azs)]),
			DbSubnetGroupName:  subnets.Name,
			PubliclyAccessible: pulumi.Bool(false),
			// Off, as AWS advises for an LTS release: an automatic minor upgrade may move the
			// cluster to a version that is not LTS. AWS still applies the LTS release's patches
			// (yearly, and critical ones at once); a preview then shows dbEngineVersion behind
			// the cluster's (docs/aws.md: Staging on AWS).
			AutoMinorVersionUpgrade: pulumi.Bool(false),
			CaCertIdentifier:        pulumi.String("rds-ca-rsa2048-g1"),
			PromotionTier:           pulumi.Int(min(i, 15)),
			// Performance Insights, encrypted with the stack's key; OS metrics every minute.
			PerformanceInsightsEnabled:         pulumi.Bool(true),
			PerformanceInsightsKmsKeyId:        rt.KmsKeyArn,
			PerformanceInsightsRetentionPeriod: pulumi.Int(performanceInsightsDays),
			MonitoringInterval:                 pulumi.Int(60),
			MonitoringRoleArn:                  monitoring.Arn,
		}, pulumi.Parent(d))
		if err != nil {
			return nil, err
		}
	}
	return instances, nil
}

// auroraCredentials sets the Database's connection outputs and makes the credentials
// secret, after the instances.
func auroraCredentials(ctx *pulumi.Context, name string, rt AwsRuntime, instances []*rds.ClusterInstance, p auroraPrereqs, d *Database) error {
	appPassword, migratorPassword := p.appPassword, p.migratorPassword
	// A cluster without instances takes no connection: its endpoints resolve only once the
	// writer (the first instance, promotion tier 0) exists, and the readers' once the last
	// does. Everything that connects (the credentials secret with its URLs, so the app's task
	// definition and service) is created after them: on a first deploy, the release step
	// would otherwise start against a cluster with nothing to answer it.
	d.Host = after(instances[0], d.Cluster.Endpoint)
	d.ReaderHost = after(instances[len(instances)-1], d.Cluster.ReaderEndpoint)
	d.Port = pulumi.Int(DatabasePort).ToIntOutput()
	d.Name = pulumi.String(DatabaseName).ToStringOutput()
	d.User = pulumi.String(DatabaseAppUser).ToStringOutput()
	d.Password = appPassword
	d.URL = databaseURL(DatabaseAppUser, appPassword, d.Host, "8.0")
	migratorURL := databaseURL(DatabaseMigratorUser, migratorPassword, d.Host, "8.0")
	secret, err := newJSONSecret(ctx, name+"-credentials", "Aurora users of the sudoku app: the app's DATABASE_URL and the release command's", rt, pulumi.StringMap{
		"engine":                pulumi.String("mysql"),
		"host":                  d.Host,
		"port":                  pulumi.Sprintf("%d", DatabasePort),
		"dbname":                pulumi.String(DatabaseName),
		"username":              pulumi.String(DatabaseAppUser),
		"password":              appPassword,
		"DATABASE_URL":          d.URL,
		"MIGRATOR_DATABASE_URL": migratorURL,
	}, d)
	if err != nil {
		return err
	}
	d.Credentials = secret.resource
	d.URLSecret = secret.key(d.URL, "DATABASE_URL")
	d.MigratorURLSecret = secret.key(migratorURL, "MIGRATOR_DATABASE_URL")
	d.AdminUser = DatabaseAdminUser
	d.AdminPassword = Secret{
		Value: pulumi.ToSecret(pulumi.String("")).(pulumi.StringOutput), // RDS's; never in state
		Arn:   d.Cluster.MasterUserSecrets.Index(pulumi.Int(0)).SecretArn().Elem(),
		Key:   "password",
		// RDS rotates it in place; the release step reads it whenever it runs, and no task
		// needs a new revision for it.
		Version: pulumi.String("managed-by-rds").ToStringOutput(),
	}
	return nil
}

// awsDatabase is the Aurora side of a Database.
type awsDatabase struct {
	// Cluster and Credentials are the Aurora cluster and its Secrets Manager secret (AWS only).
	Cluster     *rds.Cluster
	Credentials *secretsmanager.Secret
}
