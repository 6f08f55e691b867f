package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/sudoku/infra/internal/mocks"
)

// The staging stack's safety properties. Each test would fail if the property broke.

func staging(t *testing.T, overrides map[string]string) *stackRun {
	t.Helper()
	return mustRun(t, "staging", overrides)
}

func str(r *mocks.Resource, key string) string {
	v := r.Inputs[resource.PropertyKey(key)]
	if v.IsSecret() {
		v = v.SecretValue().Element
	}
	if v.IsString() {
		return v.StringValue()
	}
	return ""
}

func num(r *mocks.Resource, key string) float64 {
	if v := r.Inputs[resource.PropertyKey(key)]; v.IsNumber() {
		return v.NumberValue()
	}
	return -1
}

func boolean(r *mocks.Resource, key string) bool {
	v := r.Inputs[resource.PropertyKey(key)]
	return v.IsBool() && v.BoolValue()
}

// jsonInput decodes a JSON-string input (task definitions, policies).
func jsonInput(t *testing.T, r *mocks.Resource, key string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(str(r, key)), &v); err != nil {
		t.Fatalf("%s %s: %s is not JSON: %v", r.Type, r.Name, key, err)
	}
	return v
}

// securityGroupOf maps a security group's ID to its resource name.
func securityGroups(run *stackRun) map[string]string {
	out := map[string]string{}
	for _, r := range run.OfType("aws:ec2/securityGroup:SecurityGroup") {
		out[r.ID] = r.Name
	}
	return out
}

func TestStagingOpensOnlyTheLoadBalancerToTheInternet(t *testing.T) {
	t.Parallel()
	run := staging(t, map[string]string{"natGateways": "none"})
	groups := securityGroups(run)
	open := 0
	for _, r := range run.OfType("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") {
		if str(r, "description") == "" {
			t.Errorf("ingress rule %s has no description", r.Name)
		}
		cidr := str(r, "cidrIpv4")
		if cidr == "" {
			continue
		}
		sg := groups[str(r, "securityGroupId")]
		port := num(r, "fromPort")
		if cidr == "0.0.0.0/0" {
			open++
			if sg != "network-alb" || (port != 80 && port != 443) || num(r, "toPort") != port {
				t.Errorf("rule %s opens %s port %v to the internet", r.Name, sg, port)
			}
		}
	}
	if open != 2 {
		t.Errorf("want the ALB open on exactly 80 and 443, found %d internet rules", open)
	}
	for _, r := range run.OfType("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule") {
		if str(r, "description") == "" {
			t.Errorf("egress rule %s has no description", r.Name)
		}
	}
	if run.Named("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "network-default-sg") == nil {
		t.Error("the VPC's default security group is not taken over (and emptied)")
	}
	for _, r := range run.OfType("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup") {
		if _, ok := r.Inputs["ingress"]; ok {
			t.Error("the default security group has ingress rules")
		}
	}
}

// Aurora and Redis accept connections from the app's security group, on their port, and
// from nothing else.
func TestStagingDataStoresAreReachableOnlyFromTheApp(t *testing.T) {
	t.Parallel()
	run := staging(t, nil)
	groups := securityGroups(run)
	appSG := ""
	for id, name := range groups {
		if name == "network-app" {
			appSG = id
		}
	}
	for store, port := range map[string]float64{"db-sg": 3306, "cache-sg": 6379} {
		rules := 0
		for _, r := range run.OfType("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") {
			if groups[str(r, "securityGroupId")] != store {
				continue
			}
			rules++
			if str(r, "referencedSecurityGroupId") != appSG || str(r, "cidrIpv4") != "" || num(r, "fromPort") != port || num(r, "toPort") != port {
				t.Errorf("%s: rule %s lets in something other than the app on %v", store, r.Name, port)
			}
		}
		if rules != 1 {
			t.Errorf("%s has %d ingress rules, want exactly the app's", store, rules)
		}
	}
	cluster := run.Named("aws:rds/cluster:Cluster", "db-cluster")
	if sgs := mocks.Flatten(cluster.Inputs["vpcSecurityGroupIds"].Mappable()); groups[sgs] != "db-sg" {
		t.Errorf("Aurora is in security group(s) %q, want only db-sg", sgs)
	}
	redis := run.Named("aws:elasticache/replicationGroup:ReplicationGroup", "cache-redis")
	if sgs := mocks.Flatten(redis.Inputs["securityGroupIds"].Mappable()); groups[sgs] != "cache-sg" {
		t.Errorf("Redis is in security group(s) %q, want only cache-sg", sgs)
	}
	for _, r := range run.OfType("aws:rds/clusterInstance:ClusterInstance") {
		if boolean(r, "publiclyAccessible") {
			t.Errorf("%s is publicly accessible", r.Name)
		}
	}
}

type containerDef struct {
	Name        string `json:"name"`
	Image       string `json:"image"`
	Environment []struct {
		Name, Value string
	} `json:"environment"`
	Secrets []struct {
		Name      string `json:"name"`
		ValueFrom string `json:"valueFrom"`
	} `json:"secrets"`
	ReadonlyRootFilesystem bool `json:"readonlyRootFilesystem"`
	StopTimeout            int  `json:"stopTimeout"`
	MountPoints            []struct {
		ContainerPath string `json:"containerPath"`
	} `json:"mountPoints"`
	HealthCheck *struct {
		Command     []string `json:"command"`
		StartPeriod int      `json:"startPeriod"`
	} `json:"healthCheck"`
	LogConfiguration struct {
		LogDriver string            `json:"logDriver"`
		Options   map[string]string `json:"options"`
	} `json:"logConfiguration"`
}

func containers(t *testing.T, r *mocks.Resource) []containerDef {
	t.Helper()
	var defs []containerDef
	if err := json.Unmarshal([]byte(str(r, "containerDefinitions")), &defs); err != nil {
		t.Fatal(err)
	}
	return defs
}

// container is task definition r's container called name ("app" is the app's, "release"
// the release step's).
func container(t *testing.T, r *mocks.Resource, name string) containerDef {
	t.Helper()
	for _, c := range containers(t, r) {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("%s has no container %s", r.Name, name)
	return containerDef{}
}

// serviceContainer is the container a service's task definition is for: app-task's app.
func serviceContainer(t *testing.T, r *mocks.Resource) containerDef {
	t.Helper()
	return container(t, r, strings.TrimSuffix(r.Name, "-task"))
}

// Secrets reach tasks through ECS `secrets` (Secrets Manager ARN + JSON key), never through
// the plaintext environment; the execution role may read exactly those secrets.
func TestStagingSecretsStayOutOfTaskEnvironments(t *testing.T) {
	t.Parallel()
	run := staging(t, nil)
	secrets := run.GeneratedSecrets()
	// The app's own container gets neither the administrator's password nor the migrator's
	// URL: only the release step, which runs first, does.
	wantSecrets := map[[2]string][]string{
		{"app-task", "app"}:         {"APP_SECRET", "DATABASE_URL", "MERCURE_PUBLISHER_JWT_KEY", "MERCURE_SUBSCRIBER_JWT_KEY", "REDIS_URL"},
		{"app-task", "release"}:     {"APP_SECRET", "DATABASE_ADMIN_PASSWORD", "DATABASE_URL", "MERCURE_PUBLISHER_JWT_KEY", "MERCURE_SUBSCRIBER_JWT_KEY", "MIGRATOR_DATABASE_URL", "REDIS_URL"},
		{"mercure-task", "mercure"}: {"MERCURE_PUBLISHER_JWT_KEY", "MERCURE_SUBSCRIBER_JWT_KEY"},
	}
	for key, names := range wantSecrets {
		task := key[0] + "'s " + key[1]
		r := run.Named("aws:ecs/taskDefinition:TaskDefinition", key[0])
		if r == nil {
			t.Fatalf("task definition %s is missing", key[0])
		}
		if mocks.ContainsSecret(str(r, "containerDefinitions"), secrets) {
			t.Errorf("%s: a generated secret is in the container definitions", task)
		}
		def := container(t, r, key[1])
		var got []string
		for _, s := range def.Secrets {
			got = append(got, s.Name)
			if !strings.HasPrefix(s.ValueFrom, "arn:aws:secretsmanager:") || !strings.HasSuffix(s.ValueFrom, "::") {
				t.Errorf("%s: %s's valueFrom %q is not a Secrets Manager JSON-key reference", task, s.Name, s.ValueFrom)
			}
		}
		if strings.Join(got, ",") != strings.Join(names, ",") {
			t.Errorf("%s: secrets %v, want %v", task, got, names)
		}
		for _, e := range def.Environment {
			for _, n := range names {
				if e.Name == n {
					t.Errorf("%s: %s is in the plaintext environment", task, n)
				}
			}
		}
	}
	// A task starts only once the values of its secrets are stored.
	for task, values := range map[string][]string{
		"app-task":     {"app-secret-value", "db-credentials-value", "cache-auth-value", "mercure-jwt-keys-value"},
		"mercure-task": {"mercure-jwt-keys-value"},
	} {
		for _, v := range values {
			if !run.DependsOn(run.Named("aws:ecs/taskDefinition:TaskDefinition", task), v) {
				t.Errorf("%s does not wait for %s", task, v)
			}
		}
	}
	// The execution role reads exactly the secrets its task injects.
	secretArn := map[string]string{}
	for _, s := range run.OfType("aws:secretsmanager/secret:Secret") {
		secretArn[s.Outputs["arn"].StringValue()] = s.Name
	}
	// And the master user's, which RDS made for the cluster.
	master := run.Named("aws:rds/cluster:Cluster", "db-cluster").Outputs["masterUserSecrets"].ArrayValue()[0].ObjectValue()
	secretArn[master["secretArn"].StringValue()] = "rds-master"
	wantReadable := map[string]string{
		"app-execution":     "app-secret,cache-auth,db-credentials,mercure-jwt-keys,rds-master",
		"mercure-execution": "mercure-jwt-keys",
	}
	for role, want := range wantReadable {
		p := run.Named("aws:iam/rolePolicy:RolePolicy", role)
		var doc struct {
			Statement []struct {
				Action   []string
				Resource []string
			}
		}
		if err := json.Unmarshal([]byte(str(p, "policy")), &doc); err != nil {
			t.Fatal(err)
		}
		var readable []string
		for _, s := range doc.Statement {
			for _, a := range s.Action {
				if strings.HasPrefix(a, "secretsmanager:") {
					for _, res := range s.Resource {
						if secretArn[res] == "" {
							t.Errorf("%s may read %q, which is not one of the stack's secrets", role, res)
						}
						readable = append(readable, secretArn[res])
					}
				}
			}
			for _, res := range s.Resource {
				if res == "*" && (len(s.Action) != 1 || s.Action[0] != "ecr:GetAuthorizationToken") {
					t.Errorf("%s grants %v on every resource", role, s.Action)
				}
			}
		}
		if got := strings.Join(sorted(readable), ","); got != want {
			t.Errorf("%s may read secrets %s, want %s", role, got, want)
		}
	}
	assertNoSecretLeaks(t, run)
}

func sorted(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestStagingEncryptsBacksUpAndKeepsLogs(t *testing.T) {
	t.Parallel()
	run := staging(t, nil)
	cluster := run.Named("aws:rds/cluster:Cluster", "db-cluster")
	if !boolean(cluster, "storageEncrypted") || !strings.HasPrefix(str(cluster, "kmsKeyId"), "arn:aws:kms:") {
		t.Error("Aurora's storage is not encrypted with the stack's KMS key")
	}
	if num(cluster, "backupRetentionPeriod") != 7 {
		t.Errorf("Aurora keeps %v days of backups, want 7", num(cluster, "backupRetentionPeriod"))
	}
	if boolean(cluster, "skipFinalSnapshot") || str(cluster, "finalSnapshotIdentifier") == "" || !boolean(cluster, "deletionProtection") {
		t.Error("Aurora lacks deletion protection or a final snapshot")
	}
	params := mocks.Flatten(run.Named("aws:rds/clusterParameterGroup:ClusterParameterGroup", "db-params").Inputs["parameters"].Mappable())
	if !strings.Contains(params, "name=require_secure_transport value=ON") {
		t.Errorf("Aurora does not require TLS: %s", params)
	}
	redis := run.Named("aws:elasticache/replicationGroup:ReplicationGroup", "cache-redis")
	for _, k := range []string{"atRestEncryptionEnabled", "transitEncryptionEnabled"} {
		if !boolean(redis, k) {
			t.Errorf("Redis: %s is off", k)
		}
	}
	if !redis.Inputs["authToken"].IsSecret() {
		t.Error("Redis's AUTH token is not secret")
	}
	for _, r := range run.OfType("aws:ecr/repository:Repository") {
		enc := mocks.Flatten(r.Inputs["encryptionConfigurations"].Mappable())
		if !strings.Contains(enc, "encryptionType=KMS") || str(r, "imageTagMutability") != "IMMUTABLE" ||
			!strings.Contains(mocks.Flatten(r.Inputs["imageScanningConfiguration"].Mappable()), "scanOnPush=true") {
			t.Errorf("ECR %s: encryption %s, mutability %s, scanning %v", r.Name, enc, str(r, "imageTagMutability"), r.Inputs["imageScanningConfiguration"])
		}
	}
	for _, r := range run.OfType("aws:secretsmanager/secret:Secret") {
		if !strings.HasPrefix(str(r, "kmsKeyId"), "arn:aws:kms:") {
			t.Errorf("secret %s is not encrypted with the stack's key", r.Name)
		}
	}
	if str(run.Named("aws:sns/topic:Topic", "alarms"), "kmsMasterKeyId") == "" {
		t.Error("the alarm topic is not encrypted")
	}
	if !boolean(run.Named("aws:kms/key:Key", "data-key"), "enableKeyRotation") {
		t.Error("the KMS key does not rotate")
	}
	groups := run.OfType("aws:cloudwatch/logGroup:LogGroup")
	if len(groups) < 6 {
		t.Errorf("only %d log groups; want the services', flow logs', Aurora's and Redis's", len(groups))
	}
	for _, g := range groups {
		if num(g, "retentionInDays") != 7 {
			t.Errorf("log group %s keeps logs %v days, want 7", str(g, "name"), num(g, "retentionInDays"))
		}
	}
	// Aurora's log groups exist before the cluster, with the names Aurora writes to.
	for _, log := range []string{"error", "slowquery"} {
		g := run.Named("aws:cloudwatch/logGroup:LogGroup", "db-log-"+log)
		if g == nil || str(g, "name") != "/aws/rds/cluster/sudoku-staging-db/"+log || !run.DependsOn(cluster, "db-log-"+log) {
			t.Errorf("Aurora's %s log group is not created first with retention", log)
		}
	}
	if run.Named("aws:ec2/flowLog:FlowLog", "network-flow-log") == nil {
		t.Error("no VPC flow logs")
	}
}

func TestStagingTasksArePrivate(t *testing.T) {
	t.Parallel()
	run := staging(t, nil)
	services := run.OfType("aws:ecs/service:Service")
	if len(services) != 2 {
		t.Fatalf("want 2 services, got %d", len(services))
	}
	for _, s := range services {
		net := s.Inputs["networkConfiguration"].ObjectValue()
		if v := net["assignPublicIp"]; !v.IsBool() || v.BoolValue() {
			t.Errorf("%s: tasks get a public IP", s.Name)
		}
		if subnets := mocks.Flatten(net["subnets"].Mappable()); !strings.Contains(subnets, "subnet-") {
			t.Errorf("%s: subnets %q", s.Name, subnets)
		}
		for _, id := range net["subnets"].ArrayValue() {
			for _, sub := range run.OfType("aws:ec2/subnet:Subnet") {
				if sub.ID == id.StringValue() && !strings.Contains(sub.Name, "private") {
					t.Errorf("%s runs in public subnet %s", s.Name, sub.Name)
				}
			}
		}
		if boolean(s, "enableExecuteCommand") {
			t.Errorf("%s: ECS Exec is on by default", s.Name)
		}
		if !strings.Contains(mocks.Flatten(s.Inputs["deploymentCircuitBreaker"].Mappable()), "enable=true rollback=true") {
			t.Errorf("%s: no circuit breaker with rollback", s.Name)
		}
	}
	for _, sub := range run.OfType("aws:ec2/subnet:Subnet") {
		if boolean(sub, "mapPublicIpOnLaunch") {
			t.Errorf("subnet %s gives public IPs", sub.Name)
		}
	}
	for _, td := range run.OfType("aws:ecs/taskDefinition:TaskDefinition") {
		def := serviceContainer(t, td)
		if !def.ReadonlyRootFilesystem || def.HealthCheck == nil || def.LogConfiguration.LogDriver != "awslogs" {
			t.Errorf("%s: read-only root %v, health check %v, log driver %q", td.Name, def.ReadonlyRootFilesystem, def.HealthCheck, def.LogConfiguration.LogDriver)
		}
		// Images by digest: a new image is a new revision and a rolling deployment.
		if !strings.Contains(def.Image, "@sha256:") {
			t.Errorf("%s runs %q, not an image digest", td.Name, def.Image)
		}
	}
}

// The Bolt transport is single-node: exactly one hub, never two during a deployment, and no
// auto scaling that could add one.
func TestStagingRunsExactlyOneMercureHub(t *testing.T) {
	t.Parallel()
	run := staging(t, map[string]string{"phpMinTasks": "3", "phpMaxTasks": "9"})
	hub := run.Named("aws:ecs/service:Service", "mercure-service")
	if num(hub, "desiredCount") != 1 || num(hub, "deploymentMaximumPercent") != 100 || num(hub, "deploymentMinimumHealthyPercent") != 0 {
		t.Errorf("hub: desired %v, max %v%%, min healthy %v%%; want 1, 100, 0",
			num(hub, "desiredCount"), num(hub, "deploymentMaximumPercent"), num(hub, "deploymentMinimumHealthyPercent"))
	}
	if len(hub.IgnoreChanges) != 0 {
		t.Errorf("the hub's desiredCount must stay managed (1), but ignoreChanges = %v", hub.IgnoreChanges)
	}
	// AWS refuses AZ rebalancing on a service whose maximum percent is 100 ("Balancing an
	// Amazon ECS service across Availability Zones"; AWS CDK: "If enabled, maxHealthyPercent
	// must be greater than 100"), and a create without the field turns it on where it can: the
	// hub's says DISABLED, the app's (200%, two or more tasks) ENABLED.
	for _, svc := range run.OfType("aws:ecs/service:Service") {
		if str(svc, "availabilityZoneRebalancing") == "ENABLED" && num(svc, "deploymentMaximumPercent") <= 100 {
			t.Errorf("%s: AZ rebalancing with a maximum percent of %v, which ECS refuses", svc.Name, num(svc, "deploymentMaximumPercent"))
		}
	}
	if got := str(hub, "availabilityZoneRebalancing"); got != "DISABLED" {
		t.Errorf("hub: availabilityZoneRebalancing %q, want DISABLED (one task, maximum 100%%)", got)
	}
	targets := run.OfType("aws:appautoscaling/target:Target")
	if len(targets) != 1 || !strings.Contains(str(targets[0], "resourceId"), "app-service") {
		t.Errorf("auto scaling targets: want only the app's, got %d", len(targets))
	}
	app := run.Named("aws:ecs/service:Service", "app-service")
	if got := str(app, "availabilityZoneRebalancing"); got != "ENABLED" {
		t.Errorf("app: availabilityZoneRebalancing %q, want ENABLED", got)
	}
	if strings.Join(app.IgnoreChanges, ",") != "desiredCount" || num(app, "desiredCount") != 3 {
		t.Errorf("app: desiredCount %v, ignoreChanges %v; want 3 and desiredCount (auto scaling owns it)", num(app, "desiredCount"), app.IgnoreChanges)
	}
	if num(targets[0], "minCapacity") != 3 || num(targets[0], "maxCapacity") != 9 {
		t.Errorf("scaling bounds %v-%v, want 3-9", num(targets[0], "minCapacity"), num(targets[0], "maxCapacity"))
	}
	if n := len(run.OfType("aws:appautoscaling/policy:Policy")); n != 2 {
		t.Errorf("want CPU and memory target tracking, got %d policies", n)
	}
}

func TestStagingProtectsStatefulResources(t *testing.T) {
	t.Parallel()
	stateful := []string{
		"aws:rds/cluster:Cluster", "aws:elasticache/replicationGroup:ReplicationGroup",
		"aws:ecr/repository:Repository", "aws:secretsmanager/secret:Secret", "aws:kms/key:Key",
	}
	for _, protect := range []bool{true, false} {
		run := staging(t, map[string]string{"protect": map[bool]string{true: "true", false: "false"}[protect]})
		for _, typ := range stateful {
			rs := run.OfType(typ)
			if len(rs) == 0 {
				t.Fatalf("no %s", typ)
			}
			for _, r := range rs {
				if r.Protect != protect {
					t.Errorf("protect=%v: %s %s protect = %v", protect, typ, r.Name, r.Protect)
				}
			}
		}
		if got := boolean(run.Named("aws:rds/cluster:Cluster", "db-cluster"), "deletionProtection"); got != protect {
			t.Errorf("protect=%v: Aurora deletionProtection = %v", protect, got)
		}
	}
}

func TestStagingUsesTheTaggedProviderEverywhere(t *testing.T) {
	t.Parallel()
	run := staging(t, nil)
	p := run.Named("pulumi:providers:aws", "aws")
	if p == nil {
		t.Fatal("no explicit AWS provider")
	}
	if str(p, "region") != "eu-central-1" {
		t.Errorf("provider region %q", str(p, "region"))
	}
	tags := mocks.Flatten(p.Inputs["defaultTags"].Mappable())
	if tags != "tags=ManagedBy=pulumi Project=sudoku Stack=staging" {
		t.Errorf("default tags: %s", tags)
	}
	for _, r := range run.Resources() {
		if strings.HasPrefix(r.Type, "aws:") && (r.Provider == "" || !strings.Contains(r.Provider, "pulumi:providers:aws::aws")) {
			t.Errorf("%s %s does not use the tagged provider (%q)", r.Type, r.Name, r.Provider)
		}
	}
}

func TestStagingNetworkLayout(t *testing.T) {
	t.Parallel()
	cases := []struct {
		nat                  string
		nats, endpoints, azs int
	}{
		{"one-per-az", 3, 1, 3}, {"single", 1, 1, 3}, {"none", 0, 6, 2},
	}
	for _, c := range cases {
		run := staging(t, map[string]string{"natGateways": c.nat, "azCount": map[int]string{2: "2", 3: "3"}[c.azs]})
		if n := len(run.OfType("aws:ec2/natGateway:NatGateway")); n != c.nats {
			t.Errorf("%s: %d NAT gateways, want %d", c.nat, n, c.nats)
		}
		if n := len(run.OfType("aws:ec2/vpcEndpoint:VpcEndpoint")); n != c.endpoints {
			t.Errorf("%s: %d VPC endpoints, want %d", c.nat, n, c.endpoints)
		}
		if n := len(run.OfType("aws:ec2/subnet:Subnet")); n != 2*c.azs {
			t.Errorf("%s: %d subnets, want %d", c.nat, n, 2*c.azs)
		}
		routes := run.OfType("aws:ec2/route:Route")
		natRoutes := 0
		for _, r := range routes {
			if str(r, "natGatewayId") != "" {
				natRoutes++
			}
		}
		if want := map[bool]int{true: 0, false: c.azs}[c.nats == 0]; natRoutes != want {
			t.Errorf("%s: %d private routes through NAT, want %d", c.nat, natRoutes, want)
		}
		// Aurora's instances spread over the AZs.
		seen := map[string]bool{}
		for _, i := range run.OfType("aws:rds/clusterInstance:ClusterInstance") {
			seen[str(i, "availabilityZone")] = true
		}
		if len(seen) != 2 {
			t.Errorf("%s: Aurora instances in %d AZs, want 2", c.nat, len(seen))
		}
	}
}

func TestStagingHTTPSModes(t *testing.T) {
	t.Parallel()
	const cert = "arn:aws:acm:eu-central-1:123456789012:certificate/0e8d1ab4-1b2c-4c5d-8e9f-0a1b2c3d4e5f"
	cases := []struct {
		name       string
		overrides  map[string]string
		https      bool
		createCert bool
		alias      bool
		url        string
	}{
		{"http only", nil, false, false, false, "http://"},
		{"own certificate", map[string]string{"domainName": "staging.example.com", "certificateArn": cert, "allowHttpOnly": "false"}, true, false, false, "https://staging.example.com"},
		{"created certificate", map[string]string{"domainName": "staging.example.com", "hostedZoneId": "Z0123456789ABCDEFGHIJ", "allowHttpOnly": "false"}, true, true, true, "https://staging.example.com"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			run := staging(t, c.overrides)
			listeners := map[float64]*mocks.Resource{}
			for _, l := range run.OfType("aws:lb/listener:Listener") {
				listeners[num(l, "port")] = l
			}
			if c.https {
				https := listeners[443]
				if https == nil || str(https, "protocol") != "HTTPS" || !strings.HasPrefix(str(https, "sslPolicy"), "ELBSecurityPolicy-TLS13-") {
					t.Fatalf("no HTTPS listener with a TLS 1.3 policy")
				}
				if redirect := mocks.Flatten(listeners[80].Inputs["defaultActions"].Mappable()); !strings.Contains(redirect, "protocol=HTTPS") || !strings.Contains(redirect, "type=redirect") {
					t.Errorf("port 80 does not redirect to HTTPS: %s", redirect)
				}
			} else if len(listeners) != 1 || listeners[80] == nil {
				t.Errorf("HTTP only: want one listener on 80, got %d", len(listeners))
			}
			if got := len(run.OfType("aws:acm/certificate:Certificate")) > 0; got != c.createCert {
				t.Errorf("certificate created: %v, want %v", got, c.createCert)
			}
			if got := run.Named("aws:route53/record:Record", "lb-alias") != nil; got != c.alias {
				t.Errorf("alias record: %v, want %v", got, c.alias)
			}
			if url, _ := run.outputs["url"].Value.(string); !strings.HasPrefix(url, c.url) {
				t.Errorf("url = %q, want %s...", url, c.url)
			}
			rule := run.Named("aws:lb/listenerRule:ListenerRule", "lb-mercure")
			if conds := mocks.Flatten(rule.Inputs["conditions"].Mappable()); !strings.Contains(conds, "/.well-known/mercure /.well-known/mercure/*") {
				t.Errorf("mercure rule conditions: %s", conds)
			}
		})
	}
}

func TestStagingLoadBalancer(t *testing.T) {
	t.Parallel()
	run := staging(t, nil)
	alb := run.Named("aws:lb/loadBalancer:LoadBalancer", "lb-alb")
	if boolean(alb, "internal") || !boolean(alb, "dropInvalidHeaderFields") || !boolean(alb, "enableDeletionProtection") {
		t.Error("the ALB must be internet-facing, drop invalid headers and be protected from deletion")
	}
	if idle := num(alb, "idleTimeout"); idle <= 40 {
		t.Errorf("idle timeout %v s would cut Mercure's SSE streams between 40 s heartbeats", idle)
	}
	for tg, path := range map[string]string{"lb-app": "/status.php", "lb-mercure": "/healthz"} {
		r := run.Named("aws:lb/targetGroup:TargetGroup", tg)
		if hc := mocks.Flatten(r.Inputs["healthCheck"].Mappable()); !strings.Contains(hc, "path="+path) {
			t.Errorf("%s health check: %s", tg, hc)
		}
	}
}

func TestStagingMonitoring(t *testing.T) {
	t.Parallel()
	run := staging(t, map[string]string{"alarmEmails": `["oncall@example.com"]`, "cacheReplica": "true"})
	alarms := map[string]bool{}
	for _, a := range run.OfType("aws:cloudwatch/metricAlarm:MetricAlarm") {
		alarms[strings.TrimPrefix(a.Name, "alarm-")] = true
		if !strings.Contains(mocks.Flatten(a.Inputs["alarmActions"].Mappable()), "arn:aws:sns:") {
			t.Errorf("alarm %s notifies no SNS topic", a.Name)
		}
	}
	for _, want := range []string{
		"http-5xx-rate", "app-unhealthy-targets", "mercure-unhealthy-targets", "app-p95-latency",
		"app-healthy-tasks-below-min", "mercure-healthy-tasks-below-min", "app-cpu-high", "app-memory-high",
		"mercure-cpu-high", "mercure-memory-high", "db-cpu-high", "db-capacity-at-max", "db-replica-lag",
		"redis-1-cpu-high", "redis-1-memory-high", "redis-1-evictions", "redis-2-evictions",
	} {
		if !alarms[want] {
			t.Errorf("alarm %s is missing", want)
		}
	}
	subs := run.OfType("aws:sns/topicSubscription:TopicSubscription")
	if len(subs) != 1 || str(subs[0], "endpoint") != "oncall@example.com" {
		t.Errorf("e-mail subscriptions: %d", len(subs))
	}
	dash := run.Named("aws:cloudwatch/dashboard:Dashboard", "dashboard")
	body := jsonInput(t, dash, "dashboardBody").(map[string]any)
	if n := len(body["widgets"].([]any)); n < 10 {
		t.Errorf("dashboard has %d widgets", n)
	}
	cache := run.Named("aws:elasticache/replicationGroup:ReplicationGroup", "cache-redis")
	if num(cache, "numCacheClusters") != 2 || !boolean(cache, "automaticFailoverEnabled") || !boolean(cache, "multiAzEnabled") {
		t.Error("cacheReplica=true did not add a replica with automatic failover")
	}
}

// An alarm on a metric that is never published never fires. ECS publishes its task counts
// only with Container Insights (ECS/ContainerInsights); AWS/ECS has no task counts ("Amazon
// ECS CloudWatch metrics"). So without it, no alarm or dashboard widget may read that
// namespace, and each service still has an alarm for running short of tasks.
func TestAlarmsReadMetricsThatExist(t *testing.T) {
	t.Parallel()
	for _, insights := range []string{"true", "false"} {
		t.Run("containerInsights="+insights, func(t *testing.T) {
			run := staging(t, map[string]string{"containerInsights": insights})
			cluster := mocks.Flatten(run.Named("aws:ecs/cluster:Cluster", "cluster").Inputs["settings"].Mappable())
			enabled := strings.Contains(cluster, "value=enabled")
			if enabled != (insights == "true") {
				t.Fatalf("cluster settings %s with containerInsights %s", cluster, insights)
			}
			shortOfTasks := map[string]bool{}
			for _, a := range run.OfType("aws:cloudwatch/metricAlarm:MetricAlarm") {
				inputs := mocks.Flatten(a.Inputs.Mappable())
				if !enabled && strings.Contains(inputs, "ECS/ContainerInsights") {
					t.Errorf("%s reads Container Insights metrics, which a cluster without it never publishes", a.Name)
				}
				for _, svc := range []string{"app", "mercure"} {
					if strings.HasPrefix(a.Name, "alarm-"+svc+"-") && (strings.Contains(inputs, "RunningTaskCount") || strings.Contains(inputs, "HealthyHostCount")) {
						shortOfTasks[svc] = true
					}
				}
			}
			if !shortOfTasks["app"] || !shortOfTasks["mercure"] {
				t.Errorf("alarms for a service running short of tasks: %v, want app and mercure", shortOfTasks)
			}
			dash := mocks.Flatten(run.Named("aws:cloudwatch/dashboard:Dashboard", "dashboard").Inputs["dashboardBody"].Mappable())
			if !enabled && strings.Contains(dash, "ECS/ContainerInsights") {
				t.Error("the dashboard draws Container Insights metrics, which a cluster without it never publishes")
			}
		})
	}
}

func TestStagingOutputs(t *testing.T) {
	t.Parallel()
	run := staging(t, nil)
	for _, k := range []string{"url", "mercureUrl", "albDnsName", "ecrRepositoryUrls", "clusterName", "serviceNames",
		"dbEndpoint", "dbReaderEndpoint", "redisEndpoint", "secretArns", "logGroups", "alarmTopicArn", "dashboardName"} {
		v, ok := run.outputs[k]
		if !ok || v.Value == nil || v.Value == "" {
			t.Errorf("output %s is missing", k)
		}
		if v.Secret {
			t.Errorf("output %s is secret; staging outputs hold no secret values", k)
		}
	}
	if u := mocks.Flatten(run.outputs["ecrRepositoryUrls"].Value); !strings.Contains(u, "app=123456789012.dkr.ecr.eu-central-1.amazonaws.com/sudoku-staging-app") {
		t.Errorf("ecrRepositoryUrls = %s", u)
	}
	assertNoSecretLeaks(t, run)
}

func TestStagingConfigIsValidated(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		overrides map[string]string
		want      []string
	}{
		{"region", map[string]string{"awsRegion": "europe"}, []string{"sudoku:awsRegion", "eu-central-1"}},
		{"cidr", map[string]string{"vpcCidr": "10.0.0.0/8"}, []string{"sudoku:vpcCidr", "/16 to /20"}},
		{"cidr not a network", map[string]string{"vpcCidr": "10.0.0.1/16"}, []string{"sudoku:vpcCidr", "CIDR"}},
		{"one az", map[string]string{"azCount": "1"}, []string{"sudoku:azCount", "2 to 6"}},
		{"more azs than the region has", map[string]string{"azCount": "4"}, []string{"sudoku:azCount", "at most 3"}},
		{"nat", map[string]string{"natGateways": "two"}, []string{"sudoku:natGateways", "one-per-az, single, none"}},
		{"fargate size", map[string]string{"phpCpu": "256", "phpMemory": "4096"}, []string{"sudoku:phpMemory", "phpCpu 256"}},
		{"tasks", map[string]string{"phpMinTasks": "4", "phpMaxTasks": "2"}, []string{"sudoku:phpMaxTasks", "phpMinTasks (4)"}},
		{"backups off", map[string]string{"dbBackupRetentionDays": "0"}, []string{"sudoku:dbBackupRetentionDays", "1 to 35"}},
		{"log retention", map[string]string{"logRetentionDays": "10"}, []string{"sudoku:logRetentionDays", "CloudWatch"}},
		{"idle timeout", map[string]string{"albIdleTimeout": "30"}, []string{"sudoku:albIdleTimeout", "41 to 4000"}},
		{"domain without zone", map[string]string{"domainName": "staging.example.com", "allowHttpOnly": "false"}, []string{"sudoku:hostedZoneId", "certificateArn"}},
		// The design terminates TLS at the load balancer: HTTP only must be asked for.
		{"no https", map[string]string{"allowHttpOnly": "false"}, []string{"sudoku:domainName", "hostedZoneId", "certificateArn", "allowHttpOnly: true"}},
		{"https and http only", map[string]string{"domainName": "a.example.com", "hostedZoneId": "Z0123456789ABCDEFGHIJ"}, []string{"sudoku:allowHttpOnly", "false when domainName"}},
		{"certificate without domain", map[string]string{"certificateArn": "arn:aws:acm:eu-central-1:123456789012:certificate/0e8d1ab4-1b2c-4c5d-8e9f-0a1b2c3d4e5f"}, []string{"sudoku:domainName"}},
		{"bad certificate", map[string]string{"domainName": "a.example.com", "certificateArn": "cert"}, []string{"sudoku:certificateArn", "ACM certificate ARN"}},
		{"tls policy", map[string]string{"albSslPolicy": "ELBSecurityPolicy-2016-08"}, []string{"sudoku:albSslPolicy", "TLS 1.3"}},
		{"aurora version", map[string]string{"dbEngineVersion": "5.7.mysql_aurora.2.11.2"}, []string{"sudoku:dbEngineVersion", "Aurora MySQL 3"}},
		// AWS creates no cluster of a retired minor version: the preview says so, before
		// CreateDBCluster would (the mock answers getEngineVersion from AWS's release notes).
		{"retired aurora version", map[string]string{"dbEngineVersion": "8.0.mysql_aurora.3.07.1", "dbMinAcu": "0.5"}, []string{"sudoku:dbEngineVersion", "offers for new clusters in eu-central-1", "describe-db-engine-versions"}},
		{"alarm email", map[string]string{"alarmEmails": `["oncall"]`}, []string{"sudoku:alarmEmails", "e-mail"}},
		{"restore from an instance snapshot", map[string]string{"dbRestoreSnapshot": "arn:aws:rds:eu-central-1:123456789012:snapshot:mysql-2026"}, []string{"sudoku:dbRestoreSnapshot", "not a DB instance snapshot"}},
		{"restore from no snapshot", map[string]string{"dbRestoreSnapshot": "sudoku--final"}, []string{"sudoku:dbRestoreSnapshot", "single hyphens"}},
		// AWS restores only what exists: the preview says so, before the network is made.
		{"restore from a missing snapshot", map[string]string{"dbRestoreSnapshot": "sudoku-staging-db-final"}, []string{"sudoku:dbRestoreSnapshot", "no DB cluster snapshot sudoku-staging-db-final", "describe-db-cluster-snapshots"}},
		// Staging runs on Spot: Graviton would need on-demand (ECS: Fargate Spot has no ARM64).
		{"spot on arm64", map[string]string{"cpuArchitecture": "arm64"}, []string{"sudoku:phpCapacity", "on-demand when cpuArchitecture is arm64"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			run, err := runStack(t, "staging", c.overrides)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
			for _, r := range run.Resources() {
				if r.Type != "pulumi:providers:aws" {
					t.Errorf("%s %s was registered before the config was rejected", r.Type, r.Name)
				}
			}
		})
	}
}

// copyDir copies the regular files under src into a new temporary directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dst, filepath.Dir(rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// A change, then its revert, deploys: the repository's tags are immutable, and a rebuild of
// the reverted app (a new digest) must not be pushed under a tag the repository holds. An
// unchanged app then means no build, no push and no new task definition.
func TestStagingDeploysARevert(t *testing.T) {
	t.Parallel()
	app := copyDir(t, "app")
	page := filepath.Join(app, "public", "index.php")
	original, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	registry := mocks.NewRegistry()
	var state mocks.State
	deploy := func(generation int) *stackRun {
		t.Helper()
		run, err := runStackWith(t, "staging", map[string]string{"appPath": app}, mocks.Options{Prior: state, Generation: generation, Registry: registry})
		if err != nil {
			t.Fatalf("deployment %d failed: %v", generation, err)
		}
		state = run.State()
		return run
	}
	deploy(1)
	if err := os.WriteFile(page, append(original, []byte("<!-- a change -->\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	deploy(2)
	if err := os.WriteFile(page, original, 0o644); err != nil {
		t.Fatal(err)
	}
	deploy(3) // the revert
	pushed := len(registry.Tags())
	same := deploy(4)
	for _, r := range []*mocks.Resource{
		same.Named("docker:index/image:Image", "app-image"),
		same.Named("aws:ecs/taskDefinition:TaskDefinition", "app-task"),
		same.Named("aws:ecs/service:Service", "app-service"),
	} {
		if r.Op() != "same" {
			t.Errorf("an unchanged app changed %s %s (%s)", r.Type, r.Name, r.Op())
		}
	}
	if n := len(registry.Tags()); n != pushed {
		t.Errorf("an unchanged app pushed %d images", n-pushed)
	}
}

// A changed secret value reaches the running tasks: ECS reads secrets only when a task
// starts, and the task definition names them by ARN, which a new value keeps. The secret's
// version ID in the task definition makes a new value a new revision, so ECS rolls the
// services that read it, and only those.
func TestStagingChangedSecretRollsItsServices(t *testing.T) {
	t.Parallel()
	first, err := runStackWith(t, "staging", nil, mocks.Options{Generation: 1})
	if err != nil {
		t.Fatal(err)
	}
	// As `pulumi up --replace` of the app user's password would: a new value, stored as a
	// new version of the credentials secret. (Aurora's master password is RDS's: the
	// cluster does not change.)
	replaced := first.State().Without(func(urn string) bool { return strings.HasSuffix(urn, "::db-app-password") })
	second, err := runStackWith(t, "staging", nil, mocks.Options{Prior: replaced, Generation: 2})
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]string{}
	for name, typ := range map[string]string{
		"db-cluster": "aws:rds/cluster:Cluster", "db-credentials-value": "aws:secretsmanager/secretVersion:SecretVersion",
		"app-task": "aws:ecs/taskDefinition:TaskDefinition", "app-service": "aws:ecs/service:Service",
		"mercure-task": "aws:ecs/taskDefinition:TaskDefinition", "mercure-service": "aws:ecs/service:Service",
	} {
		ops[name] = second.Named(typ, name).Op()
	}
	want := map[string]string{
		"db-cluster": "same", "db-credentials-value": "update", "app-task": "update", "app-service": "update",
		"mercure-task": "same", "mercure-service": "same",
	}
	for name, op := range want {
		if ops[name] != op {
			t.Errorf("%s: %s, want %s", name, ops[name], op)
		}
	}
	// The label that rolls the service is the version ID, never the value.
	td := second.Named("aws:ecs/taskDefinition:TaskDefinition", "app-task")
	if td.Inputs["containerDefinitions"].ContainsSecrets() {
		t.Error("the app's container definitions are secret: a preview would hide the whole task definition")
	}
	if mocks.ContainsSecret(str(td, "containerDefinitions"), second.GeneratedSecrets()) {
		t.Error("a secret value is in the app's container definitions")
	}
}

// A deployment that ECS rolls back is reported: ECS's SERVICE_DEPLOYMENT_FAILED event, for
// either service, reaches the alarm topic, which the topic's and the key's policies let
// EventBridge publish to.
func TestStagingReportsFailedDeployments(t *testing.T) {
	t.Parallel()
	run := staging(t, nil)
	rule := run.Named("aws:cloudwatch/eventRule:EventRule", "deployment-failed")
	if rule == nil {
		t.Fatal("no EventBridge rule for failed deployments")
	}
	var pattern struct {
		Source     []string `json:"source"`
		DetailType []string `json:"detail-type"`
		Resources  []string `json:"resources"`
		Detail     struct {
			EventName []string `json:"eventName"`
		} `json:"detail"`
	}
	if err := json.Unmarshal([]byte(str(rule, "eventPattern")), &pattern); err != nil {
		t.Fatal(err)
	}
	services := []string{}
	for _, s := range run.OfType("aws:ecs/service:Service") {
		services = append(services, s.ID)
	}
	if strings.Join(pattern.Source, ",") != "aws.ecs" || strings.Join(pattern.DetailType, ",") != "ECS Deployment State Change" ||
		strings.Join(pattern.Detail.EventName, ",") != "SERVICE_DEPLOYMENT_FAILED" ||
		strings.Join(sorted(pattern.Resources), ",") != strings.Join(sorted(services), ",") {
		t.Errorf("event pattern %+v, want ECS deployment failures of %v", pattern, services)
	}
	topic := run.Named("aws:sns/topic:Topic", "alarms").Outputs["arn"].StringValue()
	target := run.Named("aws:cloudwatch/eventTarget:EventTarget", "deployment-failed")
	if target == nil || str(target, "arn") != topic || str(target, "roleArn") != "" {
		t.Errorf("the rule's target is not the alarm topic (without a role, as EventBridge wants for SNS)")
	}
	allows := func(doc, principal, action string) bool {
		var p struct {
			Statement []struct {
				Effect    string
				Principal map[string]any
				Action    any
			}
		}
		if err := json.Unmarshal([]byte(doc), &p); err != nil {
			t.Fatal(err)
		}
		for _, s := range p.Statement {
			if s.Effect == "Allow" && s.Principal["Service"] == principal && strings.Contains(mocks.Flatten(s.Action), action) {
				return true
			}
		}
		return false
	}
	if !allows(str(run.Named("aws:sns/topicPolicy:TopicPolicy", "alarms"), "policy"), "events.amazonaws.com", "sns:Publish") {
		t.Error("the topic's policy does not let EventBridge publish")
	}
	key := str(run.Named("aws:kms/key:Key", "data-key"), "policy")
	for _, action := range []string{"kms:GenerateDataKey*", "kms:Decrypt"} {
		if !allows(key, "events.amazonaws.com", action) {
			t.Errorf("the key's policy does not let EventBridge use %s on the encrypted topic", action)
		}
	}
	if arns := mocks.Flatten(run.outputs["taskDefinitionArns"].Value); !strings.Contains(arns, "app=arn:aws:ecs:") || !strings.Contains(arns, "mercure=arn:aws:ecs:") {
		t.Errorf("taskDefinitionArns = %s", arns)
	}
}

// ECS Exec is off unless a stack asks for it; then its sessions are encrypted with the
// stack's key and logged to an encrypted log group, which the task role may write to.
func TestStagingEcsExec(t *testing.T) {
	t.Parallel()
	off := staging(t, nil)
	if n := len(off.OfType("aws:iam/rolePolicy:RolePolicy")); off.Named("aws:iam/rolePolicy:RolePolicy", "app-task") != nil {
		t.Errorf("with ECS Exec off, the app's task role has a policy (%d policies)", n)
	}
	if _, ok := off.Named("aws:ecs/cluster:Cluster", "cluster").Inputs["configuration"]; ok {
		t.Error("with ECS Exec off, the cluster has an execute-command configuration")
	}
	on := staging(t, map[string]string{"ecsExec": "true"})
	logs := on.Named("aws:cloudwatch/logGroup:LogGroup", "ecs-exec-logs")
	if logs == nil || !strings.HasPrefix(str(logs, "kmsKeyId"), "arn:aws:kms:") {
		t.Fatal("no encrypted log group for ECS Exec sessions")
	}
	config := mocks.Flatten(on.Named("aws:ecs/cluster:Cluster", "cluster").Inputs["configuration"].Mappable())
	for _, want := range []string{"kmsKeyId=arn:aws:kms:", "logging=OVERRIDE", "cloudWatchEncryptionEnabled=true", "cloudWatchLogGroupName=/sudoku/staging/ecs-exec"} {
		if !strings.Contains(config, want) {
			t.Errorf("the cluster's execute-command configuration lacks %s: %s", want, config)
		}
	}
	for _, s := range on.OfType("aws:ecs/service:Service") {
		if !boolean(s, "enableExecuteCommand") {
			t.Errorf("%s: ECS Exec is off", s.Name)
		}
	}
	task := str(on.Named("aws:iam/rolePolicy:RolePolicy", "app-task"), "policy")
	for _, want := range []string{"ssmmessages:OpenDataChannel", "logs:PutLogEvents", logs.Outputs["arn"].StringValue() + ":*", "kms:Decrypt"} {
		if !strings.Contains(task, want) {
			t.Errorf("the app's task role lacks %s: %s", want, task)
		}
	}
}

// policyDoc is an IAM or resource policy.
type policyDoc struct {
	Statement []struct {
		Sid       string
		Effect    string
		Principal any
		Action    any
		Resource  any
		Condition map[string]map[string]any
	}
}

func policyOf(t *testing.T, r *mocks.Resource, key string) policyDoc {
	t.Helper()
	var p policyDoc
	if err := json.Unmarshal([]byte(str(r, key)), &p); err != nil {
		t.Fatalf("%s %s: %s: %v", r.Type, r.Name, key, err)
	}
	return p
}

// What AWS Foundational Security Best Practices, trivy and Checkov ask of the staging
// resources; each would fail if its property were removed.
func TestStagingSecurityBaseline(t *testing.T) {
	t.Parallel()
	run := staging(t, map[string]string{"natGateways": "none"})
	key := run.Named("aws:kms/key:Key", "data-key")
	keyArn := key.Outputs["arn"].StringValue()
	t.Run("log groups are encrypted with the stack's key", func(t *testing.T) {
		groups := run.OfType("aws:cloudwatch/logGroup:LogGroup")
		if len(groups) < 7 {
			t.Errorf("%d log groups", len(groups))
		}
		for _, g := range groups {
			if str(g, "kmsKeyId") != keyArn {
				t.Errorf("%s is not encrypted with the stack's key", str(g, "name"))
			}
		}
	})
	t.Run("the key outlives a destroy, and its policy is scoped", func(t *testing.T) {
		if !key.RetainOnDelete {
			t.Error("the key is not retainOnDelete: a destroy would schedule the deletion of what encrypts the final snapshot")
		}
		services := map[string]map[string]map[string]any{}
		for _, s := range policyOf(t, key, "policy").Statement {
			if p, ok := s.Principal.(map[string]any); ok {
				if svc, ok := p["Service"].(string); ok {
					services[svc] = s.Condition
				}
			}
		}
		if c := mocks.Flatten(services["logs.eu-central-1.amazonaws.com"]["ArnLike"]); c != "kms:EncryptionContext:aws:logs:arn=arn:aws:logs:eu-central-1:123456789012:log-group:*" {
			t.Errorf("CloudWatch Logs may use the key for %q, want this account's log groups", c)
		}
		if c := mocks.Flatten(services["cloudwatch.amazonaws.com"]["StringEquals"]); c != "aws:SourceAccount=123456789012" {
			t.Errorf("CloudWatch's use of the key is not limited to this account: %q", c)
		}
	})
	t.Run("service roles trust only this account", func(t *testing.T) {
		for _, r := range run.OfType("aws:iam/role:Role") {
			doc := policyOf(t, r, "assumeRolePolicy")
			for _, s := range doc.Statement {
				if c := mocks.Flatten(s.Condition["StringEquals"]); c != "aws:SourceAccount=123456789012" {
					t.Errorf("role %s: trust without aws:SourceAccount (%q)", r.Name, c)
				}
				want := map[string]string{"app-task": "arn:aws:ecs:eu-central-1:123456789012:*", "mercure-task": "arn:aws:ecs:eu-central-1:123456789012:*",
					"network-flow-logs": "arn:aws:ec2:eu-central-1:123456789012:vpc-flow-log/*"}[r.Name]
				if got := mocks.Flatten(s.Condition["ArnLike"]); want != "" && got != "aws:SourceArn="+want {
					t.Errorf("role %s: aws:SourceArn %q, want %s", r.Name, got, want)
				}
			}
		}
	})
	t.Run("the execution role decrypts only through Secrets Manager", func(t *testing.T) {
		for _, s := range policyOf(t, run.Named("aws:iam/rolePolicy:RolePolicy", "app-execution"), "policy").Statement {
			if strings.Contains(mocks.Flatten(s.Action), "kms:Decrypt") && mocks.Flatten(s.Condition["StringEquals"]) != "kms:ViaService=secretsmanager.eu-central-1.amazonaws.com" {
				t.Errorf("kms:Decrypt without kms:ViaService: %v", s.Condition)
			}
		}
	})
	t.Run("Aurora keeps its backups and has encrypted Performance Insights", func(t *testing.T) {
		cluster := run.Named("aws:rds/cluster:Cluster", "db-cluster")
		if v := cluster.Inputs["deleteAutomatedBackups"]; !v.IsBool() || v.BoolValue() {
			t.Error("deleting the cluster would delete its automated backups")
		}
		if exports := mocks.Flatten(cluster.Inputs["enabledCloudwatchLogsExports"].Mappable()); exports != "audit error slowquery" {
			t.Errorf("log exports %q", exports)
		}
		for _, i := range run.OfType("aws:rds/clusterInstance:ClusterInstance") {
			if !boolean(i, "performanceInsightsEnabled") || str(i, "performanceInsightsKmsKeyId") != keyArn || num(i, "performanceInsightsRetentionPeriod") != 7 {
				t.Errorf("%s: Performance Insights off, not encrypted with the stack's key, or not kept 7 days", i.Name)
			}
			if num(i, "monitoringInterval") != 60 || str(i, "monitoringRoleArn") == "" {
				t.Errorf("%s: no Enhanced Monitoring", i.Name)
			}
		}
	})
	t.Run("interface endpoints answer the tasks only", func(t *testing.T) {
		groups := securityGroups(run)
		peers := []string{}
		for _, r := range run.OfType("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") {
			if groups[str(r, "securityGroupId")] != "network-endpoints" {
				continue
			}
			if str(r, "cidrIpv4") != "" || num(r, "fromPort") != 443 {
				t.Errorf("endpoint rule %s lets in %s:%v", r.Name, str(r, "cidrIpv4"), num(r, "fromPort"))
			}
			peers = append(peers, groups[str(r, "referencedSecurityGroupId")])
		}
		if strings.Join(sorted(peers), ",") != "network-app,network-mercure" {
			t.Errorf("the endpoints accept %v, want the app's and the hub's groups", peers)
		}
	})
	t.Run("status.php is not public", func(t *testing.T) {
		rule := run.Named("aws:lb/listenerRule:ListenerRule", "lb-status-not-public")
		if rule == nil {
			t.Fatal("no rule keeps /status.php from the internet")
		}
		if c := mocks.Flatten(rule.Inputs["conditions"].Mappable()); c != "pathPattern=values=/status.php" {
			t.Errorf("conditions %q", c)
		}
		if a := mocks.Flatten(rule.Inputs["actions"].Mappable()); !strings.Contains(a, "statusCode=404") || !strings.Contains(a, "type=fixed-response") {
			t.Errorf("actions %q", a)
		}
		if num(rule, "priority") >= num(run.Named("aws:lb/listenerRule:ListenerRule", "lb-mercure"), "priority") {
			t.Error("the status rule must come first")
		}
	})
}

// The load balancer's access logs go to a bucket of the stack's that nobody else may read,
// that accepts only TLS, keeps its logs for the retention, and is protected.
func TestStagingAccessLogBucket(t *testing.T) {
	t.Parallel()
	run := staging(t, nil)
	bucket := run.Named("aws:s3/bucketV2:BucketV2", "lb-access-logs")
	if bucket == nil {
		t.Fatal("no access log bucket")
	}
	name := bucket.Outputs["bucket"].StringValue()
	alb := mocks.Flatten(run.Named("aws:lb/loadBalancer:LoadBalancer", "lb-alb").Inputs["accessLogs"].Mappable())
	if alb != "bucket="+name+" enabled=true prefix=alb" {
		t.Errorf("ALB access logs: %s", alb)
	}
	if !bucket.Protect || boolean(bucket, "forceDestroy") {
		t.Error("the bucket is not protected like the stack's other data")
	}
	block := run.Named("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "lb-access-logs")
	for _, k := range []string{"blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"} {
		if block == nil || !boolean(block, k) {
			t.Errorf("public access: %s is off", k)
		}
	}
	if sse := mocks.Flatten(run.Named("aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2", "lb-access-logs").Inputs["rules"].Mappable()); !strings.Contains(sse, "sseAlgorithm=AES256") {
		t.Errorf("encryption %s", sse)
	}
	if lc := mocks.Flatten(run.Named("aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2", "lb-access-logs").Inputs["rules"].Mappable()); !strings.Contains(lc, "expiration=days=7") || !strings.Contains(lc, "status=Enabled") {
		t.Errorf("lifecycle %s, want expiry after staging's 7 days", lc)
	}
	tlsOnly, delivery := false, false
	for _, s := range policyOf(t, run.Named("aws:s3/bucketPolicy:BucketPolicy", "lb-access-logs"), "policy").Statement {
		if s.Effect == "Deny" && mocks.Flatten(s.Condition["Bool"]) == "aws:SecureTransport=false" {
			tlsOnly = true
		}
		if s.Effect == "Allow" && mocks.Flatten(s.Principal) == "AWS=arn:aws:iam::054676820928:root" &&
			mocks.Flatten(s.Resource) == "arn:aws:s3:::"+name+"/alb/AWSLogs/123456789012/*" {
			delivery = true
		}
	}
	if !tlsOnly || !delivery {
		t.Errorf("bucket policy: TLS only %v, eu-central-1's load balancers may write %v", tlsOnly, delivery)
	}
}

// The WAF is on by default (staging turns it off): AWS's managed rule groups and a per-IP
// rate limit, attached to the load balancer, its requests logged and encrypted.
func TestStagingWaf(t *testing.T) {
	t.Parallel()
	if n := len(staging(t, nil).OfType("aws:wafv2/webAcl:WebAcl")); n != 0 {
		t.Errorf("staging opts out of the WAF, yet has %d web ACLs", n)
	}
	run := staging(t, map[string]string{"waf": "true", "wafRateLimit": "500"})
	acl := run.Named("aws:wafv2/webAcl:WebAcl", "lb-waf")
	if acl == nil {
		t.Fatal("no web ACL")
	}
	rules := mocks.Flatten(acl.Inputs["rules"].Mappable())
	for _, want := range []string{"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesAnonymousIpList", "aggregateKeyType=IP", "limit=500"} {
		if !strings.Contains(rules, want) {
			t.Errorf("the web ACL lacks %s", want)
		}
	}
	assoc := run.Named("aws:wafv2/webAclAssociation:WebAclAssociation", "lb-waf")
	if assoc == nil || str(assoc, "resourceArn") != run.Named("aws:lb/loadBalancer:LoadBalancer", "lb-alb").Outputs["arn"].StringValue() {
		t.Error("the web ACL is not attached to the load balancer")
	}
	logging := mocks.Flatten(run.Named("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration", "lb-waf").Inputs["logDestinationConfigs"].Mappable())
	if !strings.Contains(logging, ":log-group:aws-waf-logs-") {
		t.Errorf("WAF logs go to %q", logging)
	}
	if _, err := runStack(t, "staging", map[string]string{"waf": "true", "wafRateLimit": "50"}); err == nil || !strings.Contains(err.Error(), "sudoku:wafRateLimit") {
		t.Errorf("a rate limit below AWS's minimum was accepted: %v", err)
	}
}

// The levers staging uses to cost less, each a config key whose default is the safe choice.
func TestStagingCostLevers(t *testing.T) {
	t.Parallel()
	t.Run("Aurora Serverless v2 that pauses", func(t *testing.T) {
		run := staging(t, map[string]string{"dbInstanceClass": "db.serverless", "dbMinAcu": "0", "dbMaxAcu": "2", "dbAutoPauseMinutes": "20"})
		cluster := run.Named("aws:rds/cluster:Cluster", "db-cluster")
		if c := mocks.Flatten(cluster.Inputs["serverlessv2ScalingConfiguration"].Mappable()); c != "maxCapacity=2 minCapacity=0 secondsUntilAutoPause=1200" {
			t.Errorf("scaling %q", c)
		}
		for _, i := range run.OfType("aws:rds/clusterInstance:ClusterInstance") {
			if str(i, "instanceClass") != "db.serverless" {
				t.Errorf("%s is %s", i.Name, str(i, "instanceClass"))
			}
		}
		if run.Named("aws:cloudwatch/metricAlarm:MetricAlarm", "alarm-db-capacity-at-max") == nil || run.Named("aws:cloudwatch/metricAlarm:MetricAlarm", "alarm-db-freeable-memory-low") != nil {
			t.Error("a serverless cluster is watched for being held at its maximum, not for freeable memory")
		}
		if _, ok := staging(t, map[string]string{"dbInstanceClass": "db.t4g.medium"}).Named("aws:rds/cluster:Cluster", "db-cluster").Inputs["serverlessv2ScalingConfiguration"]; ok {
			t.Error("provisioned instances got a Serverless v2 configuration")
		}
		for overrides, key := range map[[2]string]string{
			{"8.0.mysql_aurora.3.07.1", "0"}:   "sudoku:dbMinAcu",
			{"8.0.mysql_aurora.3.08.2", "0.3"}: "sudoku:dbMinAcu",
		} {
			_, err := runStack(t, "staging", map[string]string{"dbInstanceClass": "db.serverless", "dbEngineVersion": overrides[0], "dbMinAcu": overrides[1]})
			if err == nil || !strings.Contains(err.Error(), key) {
				t.Errorf("%v: %v", overrides, err)
			}
		}
	})
	t.Run("Fargate Spot above an on-demand base", func(t *testing.T) {
		run := staging(t, map[string]string{"phpCapacity": "spot", "phpOnDemandTasks": "1"})
		app := run.Named("aws:ecs/service:Service", "app-service")
		if s := mocks.Flatten(app.Inputs["capacityProviderStrategies"].Mappable()); s != "base=1 capacityProvider=FARGATE weight=0 capacityProvider=FARGATE_SPOT weight=1" {
			t.Errorf("the app's capacity strategy: %q", s)
		}
		if _, ok := app.Inputs["launchType"]; ok {
			t.Error("a service with a capacity strategy has a launch type")
		}
		if !run.DependsOn(app, "cluster") || run.Named("aws:ecs/clusterCapacityProviders:ClusterCapacityProviders", "cluster") == nil {
			t.Error("the app's service does not wait for the cluster's capacity providers")
		}
		hub := run.Named("aws:ecs/service:Service", "mercure-service")
		if str(hub, "launchType") != "FARGATE" {
			t.Error("the hub, a single task, must stay on on-demand Fargate")
		}
	})
	t.Run("arm64", func(t *testing.T) {
		x86, arm := staging(t, nil), staging(t, map[string]string{"cpuArchitecture": "arm64", "phpCapacity": "on-demand"})
		for _, td := range arm.OfType("aws:ecs/taskDefinition:TaskDefinition") {
			if p := mocks.Flatten(td.Inputs["runtimePlatform"].Mappable()); p != "cpuArchitecture=ARM64 operatingSystemFamily=LINUX" {
				t.Errorf("%s: %s", td.Name, p)
			}
		}
		for _, img := range arm.OfType("docker:index/image:Image") {
			if boolean(img, "skipPush") {
				continue // the app's source, built on this machine only: its tag names no pushed image
			}
			if p := mocks.Flatten(img.Inputs["build"].ObjectValue()["platform"].V); p != "linux/arm64" {
				t.Errorf("%s builds for %s", img.Name, p)
			}
			if x86.Named(img.Type, img.Name).Inputs["imageName"].StringValue() == str(img, "imageName") {
				t.Errorf("%s: an arm64 image would take the x86 image's tag", img.Name)
			}
		}
	})
}

// A task stops within its stopTimeout, and Fargate Spot's notice is two minutes: PHP-FPM's
// graceful stop (process_control_timeout) must end before ECS kills the task.
func TestAppStopsWithinItsStopTimeout(t *testing.T) {
	t.Parallel()
	pool := appImageFile(t, "/usr/local/etc/php-fpm.d/zz-app.conf")
	m := regexp.MustCompile(`(?m)^process_control_timeout = ([0-9]+)s$`).FindStringSubmatch(pool)
	if m == nil {
		t.Fatal("the FPM pool sets no process_control_timeout")
	}
	fpm := atoi(m[1])
	if stop := container(t, staging(t, nil).Named("aws:ecs/taskDefinition:TaskDefinition", "app-task"), "app").StopTimeout; fpm+10 > stop || stop > 120 {
		t.Errorf("FPM takes up to %d s to stop, ECS waits %d s (Fargate allows 120): leave FPM room", fpm, stop)
	}
}

// The release step runs in the app's task before the app: the same image, `app-release`,
// with the release command and the administrator's user name; the app starts only once it
// exits 0 (an essential container cannot be a SUCCESS dependency). Its output goes to the
// app's log group.
func TestStagingReleaseStepRunsFirst(t *testing.T) {
	t.Parallel()
	run := staging(t, nil)
	td := run.Named("aws:ecs/taskDefinition:TaskDefinition", "app-task")
	// On a first deploy, nothing that connects to Aurora may start before its writer exists:
	// a cluster without instances answers no connection, the release step would fail, and the
	// circuit breaker would stop a first deployment that has nothing to roll back to.
	for _, r := range []*mocks.Resource{td, run.Named("aws:ecs/service:Service", "app-service")} {
		if !run.Needs(r, "db-1") {
			t.Errorf("%s does not wait for the Aurora writer (db-1)", r.Name)
		}
	}
	var defs []struct {
		Name      string   `json:"name"`
		Image     string   `json:"image"`
		Essential bool     `json:"essential"`
		Command   []string `json:"command"`
		DependsOn []struct {
			ContainerName, Condition string
		} `json:"dependsOn"`
	}
	if err := json.Unmarshal([]byte(str(td, "containerDefinitions")), &defs); err != nil {
		t.Fatal(err)
	}
	if len(defs) != 2 || defs[0].Name != "release" || defs[1].Name != "app" {
		t.Fatalf("containers: %+v; want release, then app", defs)
	}
	release, app := defs[0], defs[1]
	if release.Essential || release.Image != app.Image || strings.Join(release.Command, " ") != "app-release" {
		t.Errorf("release container: %+v", release)
	}
	if len(app.DependsOn) != 1 || app.DependsOn[0].ContainerName != "release" || app.DependsOn[0].Condition != "SUCCESS" {
		t.Errorf("the app does not wait for the release step's success: %+v", app.DependsOn)
	}
	env := map[string]string{}
	for _, e := range container(t, td, "release").Environment {
		env[e.Name] = e.Value
	}
	if env["RELEASE_COMMAND"] != "php bin/release" || env["DATABASE_ADMIN_USER"] != "sudoku_admin" || env["DATABASE_SSL_CA"] == "" {
		t.Errorf("release environment: %v", env)
	}
	// ECS ignores a new task's health checks for the grace period, counted from the task's
	// start: the release step's wait for the database comes first, then the app's own start.
	waits, _ := strconv.Atoi(env["RELEASE_CONNECT_SECONDS"])
	grace := num(run.Named("aws:ecs/service:Service", "app-service"), "healthCheckGracePeriodSeconds")
	if waits < 60 || grace < float64(waits+container(t, td, "app").HealthCheck.StartPeriod) {
		t.Errorf("the release step waits %d s for the database, the grace period is %v s: it must cover that and the app's start", waits, grace)
	}
	logs := container(t, td, "release").LogConfiguration.Options
	if logs["awslogs-group"] != container(t, td, "app").LogConfiguration.Options["awslogs-group"] || logs["awslogs-stream-prefix"] != "release" {
		t.Errorf("the release step's output goes to %v", logs)
	}
	// With no release command, the step still runs: it creates the database users.
	td = staging(t, map[string]string{"releaseCommand": ""}).Named("aws:ecs/taskDefinition:TaskDefinition", "app-task")
	for _, e := range container(t, td, "release").Environment {
		if e.Name == "RELEASE_COMMAND" && e.Value != "" {
			t.Errorf("releaseCommand \"\": RELEASE_COMMAND = %q", e.Value)
		}
	}
}

// With dbRestoreSnapshot, the cluster is created from the snapshot (RestoreDBClusterFromSnapshot
// in terraform-provider-aws's resourceClusterCreate, which passes kms_key_id to it and then
// applies the backup settings and the RDS-managed master password), encrypted with the stack's
// key and as protected as any other; without it, the cluster has no snapshot identifier, so
// setting one on a stack whose cluster exists changes snapshot_identifier, which is ForceNew:
// a replacement, which protection refuses and the guard reports (replace-aurora.json). The
// preview refuses a snapshot that is not Aurora MySQL's, or not ready.
func TestStagingRestoresFromASnapshot(t *testing.T) {
	t.Parallel()
	snapshots := mocks.Options{ClusterSnapshots: map[string]mocks.ClusterSnapshot{
		"sudoku-staging-db-final":          {Engine: "aurora-mysql", Status: "available"},
		"rds:sudoku-staging-db-2026-12-01": {Engine: "aurora-mysql", Status: "available"},
		"postgres-final":                   {Engine: "aurora-postgresql", Status: "available"},
		"sudoku-staging-db-copying":        {Engine: "aurora-mysql", Status: "copying"},
	}}
	plain := mustRun(t, "staging", nil)
	plainCluster := plain.Named("aws:rds/cluster:Cluster", "db-cluster")
	if _, ok := plainCluster.Inputs["snapshotIdentifier"]; ok {
		t.Fatal("a stack without dbRestoreSnapshot restores its cluster from a snapshot")
	}
	for _, id := range []string{"sudoku-staging-db-final", "rds:sudoku-staging-db-2026-12-01", "arn:aws:rds:eu-central-1:123456789012:cluster-snapshot:sudoku-staging-db-final"} {
		run, err := runStackWith(t, "staging", map[string]string{"dbRestoreSnapshot": id}, snapshots)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		cluster := run.Named("aws:rds/cluster:Cluster", "db-cluster")
		if got := str(cluster, "snapshotIdentifier"); got != id {
			t.Errorf("%s: the cluster's snapshotIdentifier is %q", id, got)
		}
		for _, key := range []string{"kmsKeyId", "storageEncrypted", "deletionProtection", "manageMasterUserPassword", "masterUserSecretKmsKeyId", "backupRetentionPeriod"} {
			if got, want := mocks.Flatten(cluster.Inputs[resource.PropertyKey(key)].Mappable()), mocks.Flatten(plainCluster.Inputs[resource.PropertyKey(key)].Mappable()); got != want {
				t.Errorf("%s: the restored cluster's %s is %s, the stack's %s", id, key, got, want)
			}
		}
		if !cluster.Protect {
			t.Errorf("%s: the restored cluster is not protected", id)
		}
	}
	for id, want := range map[string]string{
		"postgres-final":            "is a snapshot of aurora-postgresql, not of Aurora MySQL",
		"sudoku-staging-db-copying": "is copying, not yet available",
		// Automated snapshots are found only by their type; one without rds: is a manual one.
		"sudoku-staging-db-2026-12-01": "no DB cluster snapshot sudoku-staging-db-2026-12-01",
	} {
		run, err := runStackWith(t, "staging", map[string]string{"dbRestoreSnapshot": id}, snapshots)
		if err == nil || !strings.Contains(err.Error(), "sudoku:dbRestoreSnapshot: ") || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v; want a refusal saying %q", id, err, want)
		}
		for _, r := range run.Resources() {
			if r.Type != "pulumi:providers:aws" {
				t.Errorf("%s: %s %s was registered before the snapshot was refused", id, r.Type, r.Name)
			}
		}
	}
}
