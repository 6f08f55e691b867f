package diagram

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/sudoku/infra/internal/preview"
)

// idOf is a resource's provider ID, from its state or its outputs.
func idOf(st *preview.State) string {
	if st.ID != "" {
		return st.ID
	}
	return str(st.Outputs, "id")
}

func arnOf(st *preview.State) string {
	if a := str(st.Outputs, "arn"); a != "" {
		return a
	}
	return str(st.Inputs, "arn")
}

// subnetRefs are the subnets a resource is placed in.
func subnetRefs(st *preview.State) []string {
	refs := append(strs(st.Inputs["subnets"]), strs(st.Inputs["subnetIds"])...)
	if id := str(st.Inputs, "subnetId"); id != "" {
		refs = append(refs, id)
	}
	return append(refs, strs(obj(st.Inputs["networkConfiguration"])["subnets"])...)
}

// securityGroupRefs are the security groups a resource is in.
func securityGroupRefs(st *preview.State) []string {
	refs := append(strs(st.Inputs["securityGroups"]), strs(st.Inputs["vpcSecurityGroupIds"])...)
	refs = append(refs, strs(st.Inputs["securityGroupIds"])...)
	return append(refs, strs(obj(st.Inputs["networkConfiguration"])["securityGroups"])...)
}

const (
	internet  = "internet"
	awsAPIs   = "awsapis"
	endpoints = "endpoints"
	nat       = "nat"
)

func (d *drawing) aws() {
	g := d.g
	tiers := map[string]string{}
	for _, s := range g.ofType("aws:ec2/subnet:Subnet") {
		tiers[idOf(s)] = str(obj(s.Inputs["tags"]), "Tier")
	}
	// Where each component runs, from the subnets its resources are in.
	place := map[*component]string{}
	// Who is behind each security group: a component, or the interface endpoints.
	groups := map[string]string{}
	for _, st := range g.states {
		c := g.componentOf(st)
		if c == nil {
			continue
		}
		node := c.id()
		if st.Type == "aws:ec2/vpcEndpoint:VpcEndpoint" {
			node = endpoints
		}
		for _, sg := range securityGroupRefs(st) {
			groups[sg] = node
		}
		if c.kind == "Network" {
			continue
		}
		for _, id := range subnetRefs(st) {
			if tiers[id] == "public" {
				place[c] = "public"
			} else if place[c] == "" {
				place[c] = "private"
			}
		}
	}

	vpc := g.ofType("aws:ec2/vpc:Vpc")[0]
	nats := len(g.ofType("aws:ec2/natGateway:NatGateway"))
	var interfaces []string
	for _, e := range g.ofType("aws:ec2/vpcEndpoint:VpcEndpoint") {
		if str(e.Inputs, "vpcEndpointType") == "Interface" {
			service := str(e.Inputs, "serviceName")
			interfaces = append(interfaces, service[strings.LastIndex(service, ".")+1:])
		}
	}
	d.line("  %s((Internet))", internet)
	d.line("  subgraph vpc[%q]", fmt.Sprintf("VPC %s, %d AZs", str(vpc.Inputs, "cidrBlock"), len(tiers)/2))
	for _, tier := range []string{"public", "private"} {
		d.line("    subgraph %s[%q]", tier, tier+" subnets")
		for _, c := range g.sortedComponents() {
			if place[c] == tier {
				d.node("      ", c, d.awsSummary(c))
			}
		}
		if tier == "public" && nats > 0 {
			d.line("      %s[%q]", nat, count(nats, "NAT gateway"))
		}
		if tier == "private" && len(interfaces) > 0 {
			d.line("      %s[%q]", endpoints, "interface endpoints<br/>"+strings.Join(interfaces, ", "))
		}
		d.line("    end")
	}
	d.line("  end")
	d.line("  %s[(%q)]", awsAPIs, "AWS APIs<br/>ECR, Secrets Manager, CloudWatch Logs")

	routes := d.albRoutes()
	for _, r := range g.ofType("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") {
		to := groups[str(r.Inputs, "securityGroupId")]
		from := groups[str(r.Inputs, "referencedSecurityGroupId")]
		if cidr := str(r.Inputs, "cidrIpv4"); cidr == "0.0.0.0/0" {
			from = internet
		}
		if to == "" || from == "" {
			continue
		}
		port := int(num(r.Inputs, "fromPort"))
		label := fmt.Sprintf("tcp %d", port)
		if extra := routes[[2]string{from, to}]; extra != "" {
			label += " · " + extra
		}
		if from == internet {
			label += d.listenerNote(port)
		}
		d.edge(from, "-->", label, to)
	}
	for _, r := range g.ofType("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule") {
		from := groups[str(r.Inputs, "securityGroupId")]
		if from == "" || str(r.Inputs, "cidrIpv4") != "0.0.0.0/0" {
			continue
		}
		via := "via NAT"
		if nats == 0 {
			via = "via the endpoints"
		}
		d.edge(from, "-->", fmt.Sprintf("tcp %d %s", int(num(r.Inputs, "fromPort")), via), awsAPIs)
	}
	d.secrets()
}

// albRoutes labels the load balancer's edges to the services with the paths it sends them.
func (d *drawing) albRoutes() map[[2]string]string {
	g := d.g
	service := map[string]string{} // target group ARN -> component
	for _, s := range g.ofType("aws:ecs/service:Service") {
		for _, lb := range list(s.Inputs["loadBalancers"]) {
			if c := g.componentOf(s); c != nil {
				service[str(obj(lb), "targetGroupArn")] = c.id()
			}
		}
	}
	routes := map[[2]string]string{}
	var lbNode string
	for _, l := range g.ofType("aws:lb/loadBalancer:LoadBalancer") {
		if c := g.componentOf(l); c != nil {
			lbNode = c.id()
		}
	}
	for _, r := range g.ofType("aws:lb/listenerRule:ListenerRule") {
		var paths []string
		for _, cond := range list(r.Inputs["conditions"]) {
			paths = append(paths, strs(obj(obj(cond)["pathPattern"])["values"])...)
		}
		for _, a := range list(r.Inputs["actions"]) {
			if to := service[str(obj(a), "targetGroupArn")]; to != "" {
				routes[[2]string{lbNode, to}] = strings.Join(paths, " ")
			}
		}
	}
	for _, l := range g.ofType("aws:lb/listener:Listener") {
		for _, a := range list(l.Inputs["defaultActions"]) {
			if to := service[str(obj(a), "targetGroupArn")]; to != "" && routes[[2]string{lbNode, to}] == "" {
				routes[[2]string{lbNode, to}] = "everything else"
			}
		}
	}
	return routes
}

// listenerNote says what the load balancer does on a port the internet reaches.
func (d *drawing) listenerNote(port int) string {
	for _, l := range d.g.ofType("aws:lb/listener:Listener") {
		if int(num(l.Inputs, "port")) != port {
			continue
		}
		for _, a := range list(l.Inputs["defaultActions"]) {
			if str(obj(a), "type") == "redirect" {
				return " (redirects to HTTPS)"
			}
		}
		return " " + str(l.Inputs, "protocol")
	}
	return " (open, no listener)"
}

// awsSummary is a component's main resources, as a line or two.
func (d *drawing) awsSummary(c *component) []string {
	var out []string
	has := func(typ string) []*preview.State {
		var found []*preview.State
		for _, r := range c.resources {
			if r.Type == typ {
				found = append(found, r)
			}
		}
		return found
	}
	switch c.kind {
	case "LoadBalancer":
		line := "Application Load Balancer"
		if len(has("aws:wafv2/webAcl:WebAcl")) > 0 {
			line += ", WAF"
		}
		out = append(out, line)
		if len(has("aws:s3/bucketV2:BucketV2")) > 0 {
			out = append(out, "access logs to S3")
		}
	case "PhpService", "MercureHub":
		for _, s := range has("aws:ecs/service:Service") {
			line := fmt.Sprintf("ECS Fargate, %s", count(int(num(s.Inputs, "desiredCount")), "task"))
			for _, p := range list(s.Inputs["capacityProviderStrategies"]) {
				if str(obj(p), "capacityProvider") == "FARGATE" && len(list(s.Inputs["capacityProviderStrategies"])) > 1 {
					line += fmt.Sprintf(", Spot above %d", int(num(obj(p), "base")))
				}
			}
			out = append(out, line)
		}
		if len(has("aws:ecr/repository:Repository")) > 0 {
			out = append(out, "image built into ECR")
		} else {
			out = append(out, "image promoted by digest")
		}
	case "Database":
		instances := has("aws:rds/clusterInstance:ClusterInstance")
		class := ""
		if len(instances) > 0 {
			class = str(instances[0].Inputs, "instanceClass")
		}
		out = append(out, "Aurora MySQL", count(len(instances), class))
	case "Cache":
		for _, r := range has("aws:elasticache/replicationGroup:ReplicationGroup") {
			out = append(out, "ElastiCache Redis", count(int(num(r.Inputs, "numCacheClusters")), str(r.Inputs, "nodeType")))
		}
	}
	return out
}

// secrets draws where each Secrets Manager secret lives (the component that owns it) and who
// reads it (the services whose task definitions inject it).
func (d *drawing) secrets() {
	g := d.g
	secrets := g.ofType("aws:secretsmanager/secret:Secret")
	if len(secrets) == 0 {
		return
	}
	sort.Slice(secrets, func(i, j int) bool { return secrets[i].URN < secrets[j].URN })
	d.line("  subgraph sm[%q]", "Secrets Manager, encrypted with the stack's KMS key")
	readers := map[string][]string{}
	for _, td := range g.ofType("aws:ecs/taskDefinition:TaskDefinition") {
		var defs []struct {
			Secrets []struct {
				ValueFrom string `json:"valueFrom"`
			} `json:"secrets"`
		}
		_ = json.Unmarshal([]byte(str(td.Inputs, "containerDefinitions")), &defs)
		c := g.componentOf(td)
		for _, def := range defs {
			for _, s := range def.Secrets {
				if c != nil {
					readers[s.ValueFrom] = append(readers[s.ValueFrom], c.id())
				}
			}
		}
	}
	for _, s := range secrets {
		name := preview.Step{URN: s.URN}.Name()
		node := "secret_" + strings.ReplaceAll(name, "-", "_")
		d.line("    %s[/%q/]", node, name)
		for valueFrom, who := range readers {
			if arn := arnOf(s); arn != "" && strings.HasPrefix(valueFrom, arn) {
				for _, w := range who {
					d.edge(w, "-.->", "reads", node)
				}
			}
		}
	}
	d.line("  end")
}
