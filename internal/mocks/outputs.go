package mocks

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// mockOutputs returns the ID and outputs a provider would: the inputs, plus what the provider
// computes for that type. What is random for real (generated values, image digests, secret
// versions) derives from seed, which differs per run generation.
func mockOutputs(r *Resource, seed func(string) string) (string, resource.PropertyMap) {
	out := r.Inputs.Copy()
	id := sanitize(r.Name) + "-id"
	set := func(k string, v any) { out[resource.PropertyKey(k)] = resource.NewPropertyValue(v) }
	str := func(k string) string {
		if v, ok := r.Inputs[resource.PropertyKey(k)]; ok && v.IsString() {
			return v.StringValue()
		}
		return ""
	}

	switch r.Type {
	case "random:index/randomPassword:RandomPassword":
		length := 32
		if v, ok := r.Inputs["length"]; ok && v.IsNumber() {
			length = int(v.NumberValue())
		}
		set("result", fakeHex(seed("password:"+r.Name), length))
		set("bcryptHash", "$2a$10$"+fakeHex(seed("bcrypt:"+r.Name), 53))
	case "random:index/randomId:RandomId":
		n := 8
		if v, ok := r.Inputs["byteLength"]; ok && v.IsNumber() {
			n = int(v.NumberValue())
		}
		h := fakeHex(seed("id:"+r.Name), 2*n)
		set("hex", h)
		id = h
	case "docker:index/network:Network":
		id = fakeHex("network:"+str("name"), 64)
	case "docker:index/volume:Volume":
		id = str("name")
		set("mountpoint", fmt.Sprintf("/var/lib/docker/volumes/%s/_data", str("name")))
	case "docker:index/image:Image":
		digest := "sha256:" + fakeHex(seed("image:"+str("imageName")), 64)
		if v, ok := r.Inputs["skipPush"]; ok && v.IsBool() && v.BoolValue() {
			set("repoDigest", digest) // a local image's "digest" is its ID
		} else {
			set("repoDigest", repoName(str("imageName"))+"@"+digest)
		}
		id = digest
	case "docker:index/container:Container":
		id = fakeHex("container:"+str("name"), 64)
	default:
		if strings.HasPrefix(r.Type, "aws:") {
			id = awsOutputs(r, set, str, seed)
		}
	}
	return id, out
}

// The account and region every mock AWS resource lives in.
const (
	Account = "123456789012"
	Region  = "eu-central-1"
)

func arn(service, resource string) string {
	return fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, Region, Account, resource)
}

// awsOutputs fills in what AWS computes: IDs, ARNs, endpoints, and the names Pulumi
// generates when the program gives none.
func awsOutputs(r *Resource, set func(string, any), str func(string) string, seed func(string) string) string {
	hex := fakeHex(r.Type+":"+r.Name, 17)
	autoName := func() string {
		if n := str("name"); n != "" {
			return n
		}
		if p := str("namePrefix"); p != "" {
			return p + hex[:7]
		}
		name := r.Name + "-" + hex[:7]
		set("name", name)
		return name
	}
	switch r.Type {
	case "aws:ec2/vpc:Vpc":
		return "vpc-" + hex
	case "aws:ec2/subnet:Subnet":
		return "subnet-" + hex
	case "aws:ec2/securityGroup:SecurityGroup", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup":
		id := "sg-" + hex
		set("arn", arn("ec2", "security-group/"+id))
		return id
	case "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule":
		return "sgr-" + hex
	case "aws:ec2/internetGateway:InternetGateway":
		return "igw-" + hex
	case "aws:ec2/routeTable:RouteTable":
		return "rtb-" + hex
	case "aws:ec2/eip:Eip":
		set("allocationId", "eipalloc-"+hex)
		return "eipalloc-" + hex
	case "aws:ec2/natGateway:NatGateway":
		return "nat-" + hex
	case "aws:ec2/vpcEndpoint:VpcEndpoint":
		return "vpce-" + hex
	case "aws:ec2/flowLog:FlowLog":
		return "fl-" + hex
	case "aws:iam/role:Role":
		name := autoName()
		set("arn", fmt.Sprintf("arn:aws:iam::%s:role/%s", Account, name))
		return name
	case "aws:cloudwatch/logGroup:LogGroup":
		name := autoName()
		set("arn", arn("logs", "log-group:"+name))
		return name
	case "aws:kms/key:Key":
		id := fakeUUID(hex)
		set("arn", arn("kms", "key/"+id))
		set("keyId", id)
		return id
	case "aws:ecs/cluster:Cluster":
		name := autoName()
		set("arn", arn("ecs", "cluster/"+name))
		return arn("ecs", "cluster/"+name)
	case "aws:ecs/taskDefinition:TaskDefinition":
		set("arn", arn("ecs", "task-definition/"+str("family")+":1"))
		set("revision", 1)
		return str("family")
	case "aws:ecs/service:Service":
		name := autoName()
		return arn("ecs", "service/"+name)
	case "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace":
		set("arn", arn("servicediscovery", "namespace/ns-"+hex))
		set("hostedZone", "Z"+strings.ToUpper(hex))
		return "ns-" + hex
	case "aws:servicediscovery/service:Service":
		set("arn", arn("servicediscovery", "service/srv-"+hex))
		return "srv-" + hex
	case "aws:lb/loadBalancer:LoadBalancer":
		name := autoName()
		suffix := fmt.Sprintf("app/%s/%s", name, hex[:16])
		set("arn", arn("elasticloadbalancing", "loadbalancer/"+suffix))
		set("arnSuffix", suffix)
		set("dnsName", fmt.Sprintf("%s-1234567890.%s.elb.amazonaws.com", name, Region))
		set("zoneId", "Z215JYRZR1TBD5")
		return arn("elasticloadbalancing", "loadbalancer/"+suffix)
	case "aws:lb/targetGroup:TargetGroup":
		name := autoName()
		suffix := fmt.Sprintf("targetgroup/%s/%s", name, hex[:16])
		set("arn", arn("elasticloadbalancing", suffix))
		set("arnSuffix", suffix)
		return arn("elasticloadbalancing", suffix)
	case "aws:lb/listener:Listener", "aws:lb/listenerRule:ListenerRule":
		a := arn("elasticloadbalancing", "listener/app/"+r.Name+"/"+hex)
		set("arn", a)
		return a
	case "aws:acm/certificate:Certificate":
		a := arn("acm", "certificate/"+fakeUUID(hex))
		set("arn", a)
		set("domainValidationOptions", []any{map[string]any{
			"domainName":          str("domainName"),
			"resourceRecordName":  "_" + hex[:10] + "." + str("domainName") + ".",
			"resourceRecordType":  "CNAME",
			"resourceRecordValue": "_" + hex[7:17] + ".acm-validations.aws.",
		}})
		return a
	case "aws:acm/certificateValidation:CertificateValidation":
		return str("certificateArn")
	case "aws:route53/record:Record":
		set("fqdn", strings.TrimSuffix(str("name"), "."))
		return str("zoneId") + "_" + str("name")
	case "aws:rds/subnetGroup:SubnetGroup", "aws:rds/clusterParameterGroup:ClusterParameterGroup",
		"aws:elasticache/subnetGroup:SubnetGroup":
		return autoName()
	case "aws:rds/cluster:Cluster":
		id := str("clusterIdentifier")
		set("arn", arn("rds", "cluster:"+id))
		set("endpoint", fmt.Sprintf("%s.cluster-c0ffee123456.%s.rds.amazonaws.com", id, Region))
		set("readerEndpoint", fmt.Sprintf("%s.cluster-ro-c0ffee123456.%s.rds.amazonaws.com", id, Region))
		if v, ok := r.Inputs["manageMasterUserPassword"]; ok && v.IsBool() && v.BoolValue() {
			// RDS creates the master user's secret, named rds!cluster-<resource id>.
			set("masterUserSecrets", []any{map[string]any{
				"secretArn":    arn("secretsmanager", "secret:rds!cluster-"+fakeUUID(fakeHex(seed("cluster:"+id), 32))+"-AbCdEf"),
				"kmsKeyId":     str("masterUserSecretKmsKeyId"),
				"secretStatus": "active",
			}})
		}
		return id
	case "aws:rds/clusterInstance:ClusterInstance":
		set("arn", arn("rds", "db:"+str("identifier")))
		return str("identifier")
	case "aws:elasticache/replicationGroup:ReplicationGroup":
		id := str("replicationGroupId")
		set("arn", arn("elasticache", "replicationgroup:"+id))
		set("primaryEndpointAddress", fmt.Sprintf("master.%s.c0ffee.euc1.cache.amazonaws.com", id))
		return id
	case "aws:secretsmanager/secretVersion:SecretVersion":
		// Secrets Manager gives every stored value a new version ID.
		version := fakeUUID(fakeHex(seed("version:"+r.Name+":"+plain(r.Inputs["secretString"]).StringValue()), 32))
		set("versionId", version)
		return str("secretId") + "|" + version
	case "aws:secretsmanager/secret:Secret":
		name := autoName()
		set("name", name)
		a := arn("secretsmanager", "secret:"+name+"-"+hex[:6])
		set("arn", a)
		return a
	case "aws:ecr/repository:Repository":
		name := autoName()
		set("arn", arn("ecr", "repository/"+name))
		set("registryId", Account)
		set("repositoryUrl", fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com/%s", Account, Region, name))
		return name
	case "aws:s3/bucketV2:BucketV2":
		name := str("bucket")
		if name == "" {
			name = str("bucketPrefix") + hex[:12]
		}
		set("bucket", name)
		set("arn", "arn:aws:s3:::"+name)
		set("bucketDomainName", name+".s3.amazonaws.com")
		return name
	case "aws:wafv2/webAcl:WebAcl":
		a := arn("wafv2", "regional/webacl/"+str("name")+"/"+fakeUUID(hex))
		set("arn", a)
		return fakeUUID(hex)
	case "aws:sns/topic:Topic":
		name := autoName()
		set("arn", arn("sns", name))
		return arn("sns", name)
	case "aws:cloudwatch/metricAlarm:MetricAlarm":
		set("arn", arn("cloudwatch", "alarm:"+str("name")))
		return str("name")
	case "aws:cloudwatch/dashboard:Dashboard":
		set("dashboardArn", fmt.Sprintf("arn:aws:cloudwatch::%s:dashboard/%s", Account, str("dashboardName")))
		return str("dashboardName")
	}
	set("arn", arn(strings.Split(r.Type, ":")[1], r.Name))
	return r.Name + "-" + hex[:7]
}

// plain is v without its secret or output wrapping.
func plain(v resource.PropertyValue) resource.PropertyValue {
	for {
		switch {
		case v.IsSecret():
			v = v.SecretValue().Element
		case v.IsOutput():
			v = v.OutputValue().Element
		default:
			return v
		}
	}
}

func fakeUUID(hex string) string {
	h := fakeHex(hex, 32)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// repoName is an image name without its tag.
func repoName(image string) string {
	for i := len(image) - 1; i >= 0 && image[i] != '/'; i-- {
		if image[i] == ':' {
			return image[:i]
		}
	}
	return image
}

// auroraOffered are the Aurora MySQL 3 versions AWS's release notes listed as not deprecated
// ("Database engine updates for Amazon Aurora MySQL version 3", read 2026-12): 3.04 (LTS),
// 3.08 to 3.12. Earlier ones are marked deprecated there, and AWS creates no cluster of them.
var auroraOffered = regexp.MustCompile(`^8\.0\.mysql_aurora\.3\.(04\.[0-4]|08\.[0-2]|09\.0|10\.[0-4]|11\.[01]|12\.0)$`)

// auroraEngineVersion answers rds.getEngineVersion as AWS does without includeAll: an
// available version, or no match, which the provider reports as an error.
func auroraEngineVersion(args resource.PropertyMap) (resource.PropertyMap, error) {
	version := args["version"].StringValue()
	if args["engine"].StringValue() != "aurora-mysql" || !auroraOffered.MatchString(version) {
		return nil, fmt.Errorf("no RDS engine versions match the criteria and preferences")
	}
	return resource.NewPropertyMapFromMap(map[string]any{
		"engine": "aurora-mysql", "version": version, "versionActual": version, "status": "available",
		"parameterGroupFamily": "aurora-mysql8.0", "id": version,
	}), nil
}

// clusterSnapshot answers rds.getClusterSnapshot for one identifier (or ARN) as AWS and the
// provider do: the snapshot, or no result, which the provider reports as an error; an
// automated snapshot only when asked for with its type (DescribeDBClusterSnapshots).
func (o Options) clusterSnapshot(args resource.PropertyMap) (resource.PropertyMap, error) {
	id := args["dbClusterSnapshotIdentifier"].StringValue()
	name := id
	if i := strings.Index(id, ":cluster-snapshot:"); i >= 0 {
		name = id[i+len(":cluster-snapshot:"):]
	}
	s, ok := o.ClusterSnapshots[name]
	automated := strings.HasPrefix(name, "rds:")
	if !ok || (automated && args["snapshotType"].StringValue() != "automated") {
		return nil, fmt.Errorf("reading RDS DB Cluster Snapshots: Your query returned no results. Please change your search criteria and try again")
	}
	return resource.NewPropertyMapFromMap(map[string]any{
		"id": name, "dbClusterSnapshotIdentifier": name, "engine": s.Engine, "status": s.Status,
		"dbClusterSnapshotArn": arn("rds", "cluster-snapshot:"+name), "storageEncrypted": true,
		"snapshotType": map[bool]string{true: "automated", false: "manual"}[automated],
	}), nil
}

// mockInvoke answers provider functions.
func mockInvoke(token string, _ resource.PropertyMap) (resource.PropertyMap, bool) {
	switch token {
	case "aws:index/getAvailabilityZones:getAvailabilityZones":
		return resource.NewPropertyMapFromMap(map[string]any{
			"names":   []any{Region + "a", Region + "b", Region + "c"},
			"zoneIds": []any{"euc1-az2", "euc1-az3", "euc1-az1"},
			"id":      Region,
		}), true
	case "aws:index/getCallerIdentity:getCallerIdentity":
		return resource.NewPropertyMapFromMap(map[string]any{
			"accountId": Account, "arn": fmt.Sprintf("arn:aws:iam::%s:user/ci", Account), "userId": "AIDAMOCK", "id": Account,
		}), true
	case "aws:index/getPartition:getPartition":
		return resource.NewPropertyMapFromMap(map[string]any{
			"partition": "aws", "dnsSuffix": "amazonaws.com", "reverseDnsPrefix": "com.amazonaws", "id": "aws",
		}), true
	case "aws:elb/getServiceAccount:getServiceAccount":
		// The Elastic Load Balancing account of eu-central-1 (ALB user guide).
		return resource.NewPropertyMapFromMap(map[string]any{
			"arn": "arn:aws:iam::054676820928:root", "id": "054676820928", "region": Region,
		}), true
	case "aws:ecr/getAuthorizationToken:getAuthorizationToken":
		return resource.NewPropertyMapFromMap(map[string]any{
			"userName":           "AWS",
			"password":           "mock-ecr-password",
			"authorizationToken": "QVdTOm1vY2stZWNyLXBhc3N3b3Jk",
			"proxyEndpoint":      fmt.Sprintf("https://%s.dkr.ecr.%s.amazonaws.com", Account, Region),
			"expiresAt":          "2030-01-01T00:00:00Z",
			"id":                 Region,
		}), true
	}
	return nil, false
}
