// Package cost estimates what a stack costs a month, and what a change to it costs, from
// `pulumi preview --json` and a table of list prices (prices.json, data in the repository).
package cost

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/sudoku/infra/internal/preview"
)

//go:embed prices.json
var defaultTable []byte

// Table is a price table: list prices of one region, and the usage assumptions the
// estimate needs, with their defaults.
type Table struct {
	Region        string             `json:"region"`
	Currency      string             `json:"currency"`
	Date          string             `json:"date"`
	Source        string             `json:"source"`
	HoursPerMonth float64            `json:"hoursPerMonth"`
	Prices        map[string]float64 `json:"prices"`
	Instances     map[string]float64 `json:"instances"`
	Assumptions   []Assumption       `json:"assumptions"`
}

// Assumption is a usage figure the estimate rests on; the report prints each one it used.
type Assumption struct {
	Name        string  `json:"name"`
	Value       float64 `json:"value"`
	Unit        string  `json:"unit"`
	Description string  `json:"description"`
}

// DefaultTable is the repository's price table.
func DefaultTable() (*Table, error) { return ParseTable(defaultTable) }

// ParseTable reads a price table.
func ParseTable(data []byte) (*Table, error) {
	var t Table
	if err := json.Unmarshal(data, &t); err != nil {
		return nil, fmt.Errorf("price table: %w", err)
	}
	if t.Region == "" || t.Date == "" || t.Source == "" || t.HoursPerMonth <= 0 || len(t.Prices) == 0 {
		return nil, fmt.Errorf("price table: region, date, source, hoursPerMonth and prices are required")
	}
	return &t, nil
}

// Assume sets an assumption's value (name=value), for a what-if; an unknown name is an error.
func (t *Table) Assume(setting string) error {
	name, value, ok := strings.Cut(setting, "=")
	v, err := strconv.ParseFloat(value, 64)
	if !ok || err != nil || v < 0 {
		return fmt.Errorf("-assume %q: want name=number", setting)
	}
	for i := range t.Assumptions {
		if t.Assumptions[i].Name == name {
			t.Assumptions[i].Value = v
			return nil
		}
	}
	return fmt.Errorf("-assume %q: no assumption %q (the report lists them)", setting, name)
}

// Line is one priced resource: what it costs a month before and after the change. A side
// where the resource does not exist is nil.
type Line struct {
	Name, Type string
	Old, New   *float64
	Detail     string // what the price counts, such as "2 × cache.t3.micro"
}

// Unpriced is a resource the table cannot price: it is never counted as free.
type Unpriced struct{ Name, Type, Why string }

// Report is the estimate of a preview.
type Report struct {
	Table     *Table
	Lines     []Line
	Unpriced  []Unpriced
	Free      int // resources that cost nothing themselves (security groups, roles, ...)
	Old, New  float64
	Used      []Assumption
	usedNames map[string]bool
}

// free are the types that cost nothing by themselves (their traffic, logs or requests are
// priced where they happen).
var free = map[string]bool{
	"pulumi:pulumi:Stack": true, "pulumi:providers:aws": true, "pulumi:providers:docker": true, "pulumi:providers:random": true,
	"aws:ec2/vpc:Vpc": true, "aws:ec2/subnet:Subnet": true, "aws:ec2/routeTable:RouteTable": true, "aws:ec2/route:Route": true,
	"aws:ec2/routeTableAssociation:RouteTableAssociation": true, "aws:ec2/internetGateway:InternetGateway": true,
	"aws:ec2/securityGroup:SecurityGroup": true, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": true,
	"aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": true, "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": true,
	"aws:ec2/flowLog:FlowLog": true, "aws:iam/role:Role": true, "aws:iam/rolePolicy:RolePolicy": true,
	"aws:iam/rolePolicyAttachment:RolePolicyAttachment": true, "aws:kms/alias:Alias": true,
	"aws:lb/targetGroup:TargetGroup": true, "aws:lb/listener:Listener": true, "aws:lb/listenerRule:ListenerRule": true,
	"aws:acm/certificate:Certificate": true, "aws:acm/certificateValidation:CertificateValidation": true, "aws:route53/record:Record": true,
	"aws:ecs/taskDefinition:TaskDefinition": true, "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders": true,
	"aws:appautoscaling/target:Target": true, "aws:appautoscaling/policy:Policy": true,
	"aws:servicediscovery/service:Service": true, "aws:ecr/lifecyclePolicy:LifecyclePolicy": true, "aws:ecr/repositoryPolicy:RepositoryPolicy": true,
	"aws:rds/subnetGroup:SubnetGroup": true, "aws:rds/clusterParameterGroup:ClusterParameterGroup": true,
	"aws:elasticache/subnetGroup:SubnetGroup": true, "aws:secretsmanager/secretVersion:SecretVersion": true,
	"aws:sns/topic:Topic": true, "aws:sns/topicPolicy:TopicPolicy": true, "aws:sns/topicSubscription:TopicSubscription": true,
	"aws:cloudwatch/eventRule:EventRule": true, "aws:cloudwatch/eventTarget:EventTarget": true,
	"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": true, "aws:s3/bucketOwnershipControls:BucketOwnershipControls": true,
	"aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2": true,
	"aws:s3/bucketVersioningV2:BucketVersioningV2":                                               true, "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2": true,
	"aws:s3/bucketPolicy:BucketPolicy": true, "aws:wafv2/webAclAssociation:WebAclAssociation": true,
	"aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration": true,
	"random:index/randomPassword:RandomPassword":                      true, "random:index/randomId:RandomId": true,
	"docker:index/image:Image": true,
}

// Estimate prices a preview: for creates, sames and updates the new state; for deletes the
// old; for replaces and updates both, so that each line says what the change costs. Run
// the preview with --show-sames, or the resources the change keeps are left out.
func Estimate(p *preview.Preview, t *Table) *Report {
	r := &Report{Table: t, usedNames: map[string]bool{}}
	type pair struct{ old, new *preview.State }
	pairs := map[string]*pair{}
	var order []string
	for _, s := range p.Steps {
		if pairs[s.URN] == nil {
			pairs[s.URN] = &pair{}
			order = append(order, s.URN)
		}
		pr := pairs[s.URN]
		if s.Old != nil && pr.old == nil {
			pr.old = s.Old
		}
		if s.New != nil && s.Op != "delete" && s.Op != "delete-replaced" {
			pr.new = s.New
		}
	}
	var olds, news []*preview.State
	for _, urn := range order {
		if pairs[urn].old != nil {
			olds = append(olds, pairs[urn].old)
		}
		if pairs[urn].new != nil {
			news = append(news, pairs[urn].new)
		}
	}
	for _, urn := range order {
		pr := pairs[urn]
		step := preview.Step{URN: urn}
		typ, name := step.Type(), step.Name()
		if free[typ] || strings.HasPrefix(typ, "sudoku:components:") {
			r.Free++
			continue
		}
		line := Line{Name: name, Type: typ}
		for _, side := range []struct {
			state *preview.State
			all   []*preview.State
			into  **float64
		}{{pr.old, olds, &line.Old}, {pr.new, news, &line.New}} {
			if side.state == nil {
				continue
			}
			usd, detail, why := r.price(side.state, side.all)
			if why != "" {
				r.Unpriced = append(r.Unpriced, Unpriced{Name: name, Type: typ, Why: why})
				break
			}
			v := usd
			*side.into = &v
			line.Detail = detail
		}
		if line.Old == nil && line.New == nil {
			continue
		}
		if line.Old != nil {
			r.Old += *line.Old
		}
		if line.New != nil {
			r.New += *line.New
		}
		r.Lines = append(r.Lines, line)
	}
	sort.Slice(r.Lines, func(i, j int) bool {
		if r.Lines[i].Type != r.Lines[j].Type {
			return r.Lines[i].Type < r.Lines[j].Type
		}
		return r.Lines[i].Name < r.Lines[j].Name
	})
	for _, a := range t.Assumptions {
		if r.usedNames[a.Name] {
			r.Used = append(r.Used, a)
		}
	}
	return r
}

// assume is an assumption's value; the report lists the ones it read.
func (r *Report) assume(name string) float64 {
	for _, a := range r.Table.Assumptions {
		if a.Name == name {
			r.usedNames[name] = true
			return a.Value
		}
	}
	panic("cost: no assumption " + name)
}

func (r *Report) p(name string) float64 {
	v, ok := r.Table.Prices[name]
	if !ok {
		panic("cost: no price " + name)
	}
	return v
}

// price is what a resource costs a month, what that counts, or why it has no price.
func (r *Report) price(s *preview.State, all []*preview.State) (float64, string, string) {
	h := r.Table.HoursPerMonth
	in := s.Inputs
	switch s.Type {
	case "aws:ec2/natGateway:NatGateway":
		gb := r.assume("natGbPerGateway")
		return h*r.p("natGatewayHour") + gb*r.p("natGatewayGb"), fmt.Sprintf("NAT gateway, %g GB", gb), ""
	case "aws:ec2/eip:Eip":
		return h * r.p("publicIpv4Hour"), "public IPv4 address", ""
	case "aws:lb/loadBalancer:LoadBalancer":
		lcu := r.assume("albLcus")
		return h * (r.p("albHour") + lcu*r.p("albLcuHour")), fmt.Sprintf("ALB, %g LCU", lcu), ""
	case "aws:rds/cluster:Cluster":
		gb, io := r.assume("auroraStorageGb"), r.assume("auroraMillionIos")
		price, what := gb*r.p("auroraStorageGbMonth")+io*r.p("auroraIoMillion"), fmt.Sprintf("Aurora storage %g GB, %g M I/Os", gb, io)
		if managed, _ := in["manageMasterUserPassword"].(bool); managed {
			// RDS keeps the master password in a Secrets Manager secret of its own, billed
			// as any secret, which is no resource of the stack's.
			price += r.p("secretMonth") + r.assume("secretApiCalls10k")*r.p("secretApiCalls10k")
			what += ", the master password's secret"
		}
		return price, what, ""
	case "aws:rds/clusterInstance:ClusterInstance":
		return r.auroraInstance(s, all)
	case "aws:elasticache/replicationGroup:ReplicationGroup":
		nodeType := str(in, "nodeType")
		price, ok := r.Table.Instances[nodeType]
		if !ok {
			return 0, "", "no price for node type " + nodeType
		}
		nodes := num(in, "numCacheClusters", 1)
		return nodes * price * h, fmt.Sprintf("%g × %s", nodes, nodeType), ""
	case "aws:ecs/service:Service":
		return r.fargate(s, all)
	case "aws:ecs/cluster:Cluster":
		if !containerInsights(in) {
			return 0, "Container Insights off", ""
		}
		services := 0
		for _, o := range all {
			if o.Type == "aws:ecs/service:Service" {
				services++
			}
		}
		metrics := float64(services) * r.assume("containerInsightsMetricsPerService")
		return metrics * r.p("containerInsightsMetricMonth"), fmt.Sprintf("Container Insights, %g metrics", metrics), ""
	case "aws:ec2/vpcEndpoint:VpcEndpoint":
		if str(in, "vpcEndpointType") != "Interface" {
			return 0, "gateway endpoint", ""
		}
		azs := float64(len(list(in["subnetIds"])))
		gb := r.assume("endpointGb")
		return azs*h*r.p("interfaceEndpointAzHour") + gb*r.p("interfaceEndpointGb"), fmt.Sprintf("interface endpoint in %g AZs", azs), ""
	case "aws:secretsmanager/secret:Secret":
		return r.p("secretMonth") + r.assume("secretApiCalls10k")*r.p("secretApiCalls10k"), "secret", ""
	case "aws:kms/key:Key":
		return r.p("kmsKeyMonth") + r.assume("kmsRequests10k")*r.p("kmsRequests10k"), "customer-managed key", ""
	case "aws:cloudwatch/metricAlarm:MetricAlarm":
		metrics := 0
		for _, q := range list(in["metricQueries"]) {
			if m, ok := q.(map[string]any); ok && m["metric"] != nil {
				metrics++
			}
		}
		metrics = max(metrics, 1)
		return float64(metrics) * r.p("alarmMetricMonth"), fmt.Sprintf("alarm on %d metric(s)", metrics), ""
	case "aws:cloudwatch/dashboard:Dashboard":
		return r.p("dashboardMonth"), "dashboard (an account's first 3 are free)", ""
	case "aws:cloudwatch/logGroup:LogGroup":
		gb := r.assume("logGbPerGroup")
		stored := gb * math.Min(num(in, "retentionInDays", 3653), 3653) / 30.4
		return gb*r.p("logsIngestGb") + stored*r.p("logsStorageGbMonth"), fmt.Sprintf("%g GB in, %.1f GB kept", gb, stored), ""
	case "aws:wafv2/webAcl:WebAcl":
		rules, req := float64(len(list(in["rules"]))), r.assume("wafMillionRequests")
		return r.p("wafWebAclMonth") + rules*r.p("wafRuleMonth") + req*r.p("wafMillionRequests"), fmt.Sprintf("web ACL, %g rules, %g M requests", rules, req), ""
	case "aws:s3/bucketV2:BucketV2":
		gb := r.assume("accessLogGb")
		return gb * r.p("s3StandardGbMonth"), fmt.Sprintf("%g GB", gb), ""
	case "aws:ecr/repository:Repository":
		gb := r.assume("ecrGbPerRepository")
		return gb * r.p("ecrStorageGbMonth"), fmt.Sprintf("%g GB of images", gb), ""
	case "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace":
		return r.p("route53HostedZoneMonth"), "private hosted zone", ""
	}
	return 0, "", "no price for this type"
}

// auroraInstance prices a provisioned instance by its class, or a Serverless v2 one by the
// ACU-hours its cluster's capacity range and the assumptions give.
func (r *Report) auroraInstance(s *preview.State, all []*preview.State) (float64, string, string) {
	h := r.Table.HoursPerMonth
	class := str(s.Inputs, "instanceClass")
	monitoring := 0.0
	if num(s.Inputs, "monitoringInterval", 0) > 0 {
		monitoring = r.assume("logGbPerGroup") * r.p("logsIngestGb")
	}
	if class != "db.serverless" {
		price, ok := r.Table.Instances[class]
		if !ok {
			return 0, "", "no price for instance class " + class
		}
		return price*h + monitoring, class, ""
	}
	cluster := sibling(s, all, "aws:rds/cluster:Cluster")
	if cluster == nil {
		return 0, "", "a Serverless v2 instance without its cluster in the preview"
	}
	scaling, _ := cluster.Inputs["serverlessv2ScalingConfiguration"].(map[string]any)
	minAcu := num(scaling, "minCapacity", 0.5)
	hours := h
	if minAcu == 0 {
		hours = r.assume("auroraActiveHours")
	}
	acu := math.Max(minAcu, r.assume("auroraAverageAcu"))
	return acu*hours*r.p("auroraAcuHour") + monitoring, fmt.Sprintf("Serverless v2, %g ACU × %g h", acu, hours), ""
}

// fargate prices a service's tasks: its desired count (auto scaling's minimum) of its task
// definition's size, on-demand up to the capacity strategy's base and Spot beyond it.
func (r *Report) fargate(s *preview.State, all []*preview.State) (float64, string, string) {
	td := sibling(s, all, "aws:ecs/taskDefinition:TaskDefinition")
	if td == nil {
		return 0, "", "a service without its task definition in the preview"
	}
	cpu, errC := strconv.ParseFloat(str(td.Inputs, "cpu"), 64)
	mem, errM := strconv.ParseFloat(str(td.Inputs, "memory"), 64)
	if errC != nil || errM != nil {
		return 0, "", "a task definition without cpu and memory"
	}
	vcpu, gb := r.p("fargateVcpuHour"), r.p("fargateGbHour")
	arch := "x86"
	if platform, _ := td.Inputs["runtimePlatform"].(map[string]any); str(platform, "cpuArchitecture") == "ARM64" {
		vcpu, gb, arch = r.p("fargateArmVcpuHour"), r.p("fargateArmGbHour"), "arm64"
	}
	task := (cpu/1024*vcpu + mem/1024*gb) * r.Table.HoursPerMonth
	tasks := num(s.Inputs, "desiredCount", 1)
	onDemand, spot := tasks, 0.0
	for _, p := range list(s.Inputs["capacityProviderStrategies"]) {
		m, _ := p.(map[string]any)
		if str(m, "capacityProvider") == "FARGATE_SPOT" {
			onDemand = math.Min(tasks, baseOf(s.Inputs))
			spot = tasks - onDemand
		}
	}
	usd := onDemand * task
	detail := fmt.Sprintf("%g × %g vCPU/%g GB %s", tasks, cpu/1024, mem/1024, arch)
	if spot > 0 {
		usd += spot * task * (1 - r.assume("fargateSpotDiscount"))
		detail += fmt.Sprintf(", %g on Spot", spot)
	}
	return usd, detail, ""
}

// baseOf is the on-demand base of a service's capacity strategy.
func baseOf(in map[string]any) float64 {
	for _, p := range list(in["capacityProviderStrategies"]) {
		m, _ := p.(map[string]any)
		if str(m, "capacityProvider") == "FARGATE" {
			return num(m, "base", 0)
		}
	}
	return 0
}

// sibling is the resource of type typ with the same parent as s: how a service finds its
// task definition, and an Aurora instance its cluster.
func sibling(s *preview.State, all []*preview.State, typ string) *preview.State {
	for _, o := range all {
		if o.Type == typ && o.Parent == s.Parent {
			return o
		}
	}
	return nil
}

func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

func num(m map[string]any, key string, def float64) float64 {
	switch v := m[key].(type) {
	case float64:
		return v
	case string:
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			return f
		}
	}
	return def
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

// containerInsights reports whether an ECS cluster's settings turn Container Insights on.
func containerInsights(cluster map[string]any) bool {
	for _, setting := range list(cluster["settings"]) {
		if m, ok := setting.(map[string]any); ok && str(m, "name") == "containerInsights" && str(m, "value") == "enabled" {
			return true
		}
	}
	return false
}

// Seed is the old design's staging, priced with the same table and assumptions: 2 NAT
// gateways (each with its public IPv4 address), 2 db.t4g.medium Aurora instances and the
// cluster's storage, one cache.t3.micro node, the ALB, 2 app tasks of 0.5 vCPU and 1 GB and
// a hub task of 0.25 vCPU and 0.5 GB, all on-demand x86 Fargate.
func Seed(t *Table) *Report {
	state := func(typ, parent string, inputs map[string]any) *preview.State {
		return &preview.State{Type: typ, Parent: parent, Inputs: inputs}
	}
	urn := func(typ, name string) string { return "urn:pulumi:seed::sudoku::" + typ + "::" + name }
	var steps []preview.Step
	add := func(name string, s *preview.State) {
		s.URN = urn(s.Type, name)
		steps = append(steps, preview.Step{Op: "create", URN: s.URN, New: s})
	}
	for _, az := range []string{"a", "b"} {
		add("nat-"+az, state("aws:ec2/natGateway:NatGateway", "", nil))
		add("nat-"+az, state("aws:ec2/eip:Eip", "", nil))
		add("db-"+az, state("aws:rds/clusterInstance:ClusterInstance", "db", map[string]any{"instanceClass": "db.t4g.medium"}))
	}
	add("db", state("aws:rds/cluster:Cluster", "db", nil))
	add("cache", state("aws:elasticache/replicationGroup:ReplicationGroup", "", map[string]any{"nodeType": "cache.t3.micro", "numCacheClusters": 1.0}))
	add("alb", state("aws:lb/loadBalancer:LoadBalancer", "", nil))
	for _, svc := range []struct {
		name, cpu, memory string
		tasks             float64
	}{{"app", "512", "1024", 2}, {"mercure", "256", "512", 1}} {
		add(svc.name, state("aws:ecs/taskDefinition:TaskDefinition", svc.name, map[string]any{"cpu": svc.cpu, "memory": svc.memory}))
		add(svc.name, state("aws:ecs/service:Service", svc.name, map[string]any{"desiredCount": svc.tasks}))
	}
	return Estimate(&preview.Preview{Steps: steps}, t)
}
