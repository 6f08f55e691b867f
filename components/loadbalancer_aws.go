//go:build !sudoku_local

package components

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/acm"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/elb"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lb"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/route53"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/wafv2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// AwsLoadBalancerArgs configures the Application Load Balancer. HTTPS comes from
// CertificateArn if set, else from a certificate the program creates and validates in
// HostedZoneID; with neither, the load balancer serves HTTP only (and says so at preview).
type AwsLoadBalancerArgs struct {
	// Runtime is the network and settings the stack shares; required.
	Runtime AwsRuntime
	// DomainName is the app's public host name; required with CertificateArn or HostedZoneID.
	DomainName string
	// HostedZoneID is DomainName's Route 53 zone: the alias record goes there, and the
	// certificate's validation record when the program creates the certificate.
	HostedZoneID string
	// CertificateArn is an existing ACM certificate for DomainName.
	CertificateArn string
	// AllowHTTPOnly lets the load balancer serve HTTP only when no certificate is given;
	// default false, and then one of CertificateArn and HostedZoneID is required.
	AllowHTTPOnly bool
	// SslPolicy is the HTTPS listener's policy; default "ELBSecurityPolicy-TLS13-1-2-2021-06".
	SslPolicy string
	// DeletionProtection guards the load balancer against deletion; default false.
	DeletionProtection bool
	// IdleTimeout in seconds; default 120, and above the hub's 40 s heartbeat so that idle
	// server-sent event streams stay open.
	IdleTimeout int
	// AccessLogDays is how long the access logs' bucket keeps them; default 365.
	AccessLogDays int
	// Waf puts an AWS WAF web ACL in front of the load balancer; default false.
	Waf bool
	// WafRateLimit is the requests one IP may make in 5 minutes; default 1000.
	WafRateLimit int
}

func (a AwsLoadBalancerArgs) withDefaults() AwsLoadBalancerArgs {
	a.Runtime = a.Runtime.withDefaults()
	if a.SslPolicy == "" {
		a.SslPolicy = "ELBSecurityPolicy-TLS13-1-2-2021-06"
	}
	if a.IdleTimeout == 0 {
		a.IdleTimeout = 120
	}
	if a.AccessLogDays == 0 {
		a.AccessLogDays = 365
	}
	if a.WafRateLimit == 0 {
		a.WafRateLimit = 1000
	}
	return a
}

// mercureHeartbeat is the hub's default heartbeat interval, in seconds.
const mercureHeartbeat = 40

func (a AwsLoadBalancerArgs) validate() error {
	if err := a.Runtime.validate("loadbalancer", false); err != nil {
		return err
	}
	if a.Waf && a.WafRateLimit < 100 {
		return fieldError("loadbalancer", "WafRateLimit", "at least 100 (AWS WAF's minimum is 10 per minute)", a.WafRateLimit)
	}
	if a.IdleTimeout <= mercureHeartbeat || a.IdleTimeout > 4000 {
		return fieldError("loadbalancer", "IdleTimeout", fmt.Sprintf("above the hub's %d s heartbeat and at most 4000", mercureHeartbeat), a.IdleTimeout)
	}
	if (a.CertificateArn != "" || a.HostedZoneID != "") && a.DomainName == "" {
		return fieldError("loadbalancer", "DomainName", "set with CertificateArn or HostedZoneID", `""`)
	}
	if a.DomainName != "" && a.CertificateArn == "" && a.HostedZoneID == "" {
		return fieldError("loadbalancer", "HostedZoneID", "set when DomainName is and CertificateArn is not", `""`)
	}
	if !a.HTTPS() && !a.AllowHTTPOnly {
		return fieldError("loadbalancer", "DomainName", "set with HostedZoneID or CertificateArn for HTTPS, unless AllowHTTPOnly", `""`)
	}
	return nil
}

// HTTPS reports whether the load balancer will serve HTTPS.
func (a AwsLoadBalancerArgs) HTTPS() bool { return a.CertificateArn != "" || a.HostedZoneID != "" }

// NewAwsLoadBalancer creates an internet-facing ALB in the public subnets, with target groups
// for the app (/status.php) and the hub (/healthz), and a rule that sends
// /.well-known/mercure* to the hub.
func NewAwsLoadBalancer(ctx *pulumi.Context, name string, args *AwsLoadBalancerArgs, opts ...pulumi.ResourceOption) (*LoadBalancer, error) {
	a := args.withDefaults()
	if err := a.validate(); err != nil {
		return nil, err
	}
	l := &LoadBalancer{}
	if err := ctx.RegisterComponentResource(typePrefix+"LoadBalancer", name, l, opts...); err != nil {
		return nil, err
	}
	if err := newAlb(ctx, name, a, l); err != nil {
		return nil, fmt.Errorf("loadbalancer: %w", err)
	}
	return l, l.registerOutputs(ctx)
}

func newAlb(ctx *pulumi.Context, name string, a AwsLoadBalancerArgs, l *LoadBalancer) error {
	rt := a.Runtime
	logs, logsAllowed, err := accessLogBucket(ctx, name, a, l)
	if err != nil {
		return err
	}
	l.AccessLogs = logs
	l.Alb, err = lb.NewLoadBalancer(ctx, name+"-alb", &lb.LoadBalancerArgs{
		LoadBalancerType:         pulumi.String("application"),
		Internal:                 pulumi.Bool(false),
		Subnets:                  rt.Network.PublicSubnetIDs,
		SecurityGroups:           pulumi.StringArray{rt.Network.SecurityGroupIDs.MapIndex(pulumi.String(TierAlb))},
		DropInvalidHeaderFields:  pulumi.Bool(true),
		EnableDeletionProtection: pulumi.Bool(a.DeletionProtection),
		IdleTimeout:              pulumi.Int(a.IdleTimeout),
		EnableHttp2:              pulumi.Bool(true),
		AccessLogs: lb.LoadBalancerAccessLogsArgs{
			Bucket: logs.Bucket, Prefix: pulumi.String(accessLogPrefix), Enabled: pulumi.Bool(true),
		},
		// The load balancer checks that it may write to the bucket when logs are turned on.
	}, pulumi.Parent(l), pulumi.DependsOn([]pulumi.Resource{logsAllowed}))
	if err != nil {
		return err
	}
	if a.Waf {
		if l.WebACL, err = webACL(ctx, name, a, l); err != nil {
			return err
		}
	}
	if l.AppTargetGroup, err = targetGroup(ctx, name+"-app", rt, PhpPort, "/status.php", 30, l); err != nil {
		return err
	}
	// SSE streams are long; a hub being replaced drops them at once, and clients reconnect.
	if l.MercureTargetGroup, err = targetGroup(ctx, name+"-mercure", rt, MercurePort, "/healthz", 5, l); err != nil {
		return err
	}

	serving, err := albListeners(ctx, name, a, l)
	if err != nil {
		return err
	}
	mercureRule, err := albRules(ctx, name, serving, l)
	if err != nil {
		return err
	}
	if a.HostedZoneID != "" {
		if _, err := route53.NewRecord(ctx, name+"-alias", &route53.RecordArgs{
			ZoneId: pulumi.String(a.HostedZoneID),
			Name:   pulumi.String(a.DomainName),
			Type:   pulumi.String("A"),
			Aliases: route53.RecordAliasArray{route53.RecordAliasArgs{
				Name: l.Alb.DnsName, ZoneId: l.Alb.ZoneId, EvaluateTargetHealth: pulumi.Bool(true),
			}},
		}, pulumi.Parent(l)); err != nil {
			return err
		}
	}

	if a.HTTPS() {
		l.URL = after(serving, pulumi.String("https://"+a.DomainName).ToStringOutput())
	} else {
		l.URL = after(serving, pulumi.Sprintf("http://%s", l.Alb.DnsName))
	}
	l.MercurePublicURL = pulumi.Sprintf("%s%s", l.URL, MercurePath)
	l.DNSName = l.Alb.DnsName
	// A service can only join a target group that a listener uses: the ARNs resolve once the
	// listener and the rule exist.
	l.Targets = pulumi.StringMap{
		"app":     after(serving, l.AppTargetGroup.Arn),
		"mercure": after(mercureRule, l.MercureTargetGroup.Arn),
	}.ToStringMapOutput()
	return nil
}

// albListeners makes the listener that serves (HTTPS, with HTTP redirecting to it; or HTTP
// alone when the stack allows it), forwarding to the app by default, and returns it.
func albListeners(ctx *pulumi.Context, name string, a AwsLoadBalancerArgs, l *LoadBalancer) (*lb.Listener, error) {
	forwardToApp := lb.ListenerDefaultActionArray{lb.ListenerDefaultActionArgs{
		Type: pulumi.String("forward"), TargetGroupArn: l.AppTargetGroup.Arn,
	}}
	var serving *lb.Listener
	var err error
	if a.HTTPS() {
		certificate, err := certificateArn(ctx, name, a, l)
		if err != nil {
			return nil, err
		}
		serving, err = lb.NewListener(ctx, name+"-https", &lb.ListenerArgs{
			LoadBalancerArn: l.Alb.Arn,
			Port:            pulumi.Int(443),
			Protocol:        pulumi.String("HTTPS"),
			SslPolicy:       pulumi.String(a.SslPolicy),
			CertificateArn:  certificate,
			DefaultActions:  forwardToApp,
		}, pulumi.Parent(l))
		if err != nil {
			return nil, err
		}
		_, err = lb.NewListener(ctx, name+"-http", &lb.ListenerArgs{
			LoadBalancerArn: l.Alb.Arn,
			Port:            pulumi.Int(80),
			Protocol:        pulumi.String("HTTP"),
			DefaultActions: lb.ListenerDefaultActionArray{lb.ListenerDefaultActionArgs{
				Type: pulumi.String("redirect"),
				Redirect: lb.ListenerDefaultActionRedirectArgs{
					Protocol: pulumi.String("HTTPS"), Port: pulumi.String("443"), StatusCode: pulumi.String("HTTP_301"),
				},
			}},
		}, pulumi.Parent(l))
		if err != nil {
			return nil, err
		}
	} else {
		_ = ctx.Log.Warn("allowHttpOnly: the load balancer serves HTTP only, without TLS. "+
			"Set sudoku:domainName with sudoku:hostedZoneId (or sudoku:certificateArn) for HTTPS.", nil)
		serving, err = lb.NewListener(ctx, name+"-http", &lb.ListenerArgs{
			LoadBalancerArn: l.Alb.Arn,
			Port:            pulumi.Int(80),
			Protocol:        pulumi.String("HTTP"),
			DefaultActions:  forwardToApp,
		}, pulumi.Parent(l))
		if err != nil {
			return nil, err
		}
	}
	return serving, nil
}

// albRules hides status.php from the internet and sends the hub's path to the hub; it returns
// the hub's rule.
func albRules(ctx *pulumi.Context, name string, serving *lb.Listener, l *LoadBalancer) (*lb.ListenerRule, error) {
	// status.php says whether MySQL and Redis let the app in: for the target group's health
	// checks, which reach the tasks directly, and for no one on the internet.
	if _, err := lb.NewListenerRule(ctx, name+"-status-not-public", &lb.ListenerRuleArgs{
		ListenerArn: serving.Arn,
		Priority:    pulumi.Int(5),
		Conditions: lb.ListenerRuleConditionArray{lb.ListenerRuleConditionArgs{
			PathPattern: lb.ListenerRuleConditionPathPatternArgs{Values: pulumi.StringArray{pulumi.String("/status.php")}},
		}},
		Actions: lb.ListenerRuleActionArray{lb.ListenerRuleActionArgs{
			Type: pulumi.String("fixed-response"),
			FixedResponse: lb.ListenerRuleActionFixedResponseArgs{
				ContentType: pulumi.String("text/plain"), MessageBody: pulumi.String("Not Found\n"), StatusCode: pulumi.String("404"),
			},
		}},
	}, pulumi.Parent(l)); err != nil {
		return nil, err
	}
	return lb.NewListenerRule(ctx, name+"-mercure", &lb.ListenerRuleArgs{
		ListenerArn: serving.Arn,
		Priority:    pulumi.Int(10),
		Conditions: lb.ListenerRuleConditionArray{lb.ListenerRuleConditionArgs{
			PathPattern: lb.ListenerRuleConditionPathPatternArgs{
				Values: pulumi.StringArray{pulumi.String(MercurePath), pulumi.String(MercurePath + "/*")},
			},
		}},
		Actions: lb.ListenerRuleActionArray{lb.ListenerRuleActionArgs{
			Type: pulumi.String("forward"), TargetGroupArn: l.MercureTargetGroup.Arn,
		}},
	}, pulumi.Parent(l))
}

func targetGroup(ctx *pulumi.Context, name string, rt AwsRuntime, port int, healthPath string, drain int, parent pulumi.Resource) (*lb.TargetGroup, error) {
	return lb.NewTargetGroup(ctx, name, &lb.TargetGroupArgs{
		Port:                pulumi.Int(port),
		Protocol:            pulumi.String("HTTP"),
		TargetType:          pulumi.String("ip"),
		VpcId:               rt.Network.ID,
		DeregistrationDelay: pulumi.Int(drain),
		HealthCheck: lb.TargetGroupHealthCheckArgs{
			Path:               pulumi.String(healthPath),
			Matcher:            pulumi.String("200"),
			Interval:           pulumi.Int(15),
			Timeout:            pulumi.Int(5),
			HealthyThreshold:   pulumi.Int(2),
			UnhealthyThreshold: pulumi.Int(3),
		},
	}, pulumi.Parent(parent))
}

// certificateArn is the configured certificate, or a new one validated by DNS in the zone.
func certificateArn(ctx *pulumi.Context, name string, a AwsLoadBalancerArgs, parent pulumi.Resource) (pulumi.StringOutput, error) {
	if a.CertificateArn != "" {
		return pulumi.String(a.CertificateArn).ToStringOutput(), nil
	}
	cert, err := acm.NewCertificate(ctx, name+"-certificate", &acm.CertificateArgs{
		DomainName:       pulumi.String(a.DomainName),
		ValidationMethod: pulumi.String("DNS"),
	}, pulumi.Parent(parent))
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	option := cert.DomainValidationOptions.Index(pulumi.Int(0))
	record, err := route53.NewRecord(ctx, name+"-certificate-validation", &route53.RecordArgs{
		ZoneId:         pulumi.String(a.HostedZoneID),
		Name:           option.ResourceRecordName().Elem(),
		Type:           option.ResourceRecordType().Elem(),
		Records:        pulumi.StringArray{option.ResourceRecordValue().Elem()},
		Ttl:            pulumi.Int(300),
		AllowOverwrite: pulumi.Bool(true),
	}, pulumi.Parent(parent))
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	validation, err := acm.NewCertificateValidation(ctx, name+"-certificate", &acm.CertificateValidationArgs{
		CertificateArn:        cert.Arn,
		ValidationRecordFqdns: pulumi.StringArray{record.Fqdn},
	}, pulumi.Parent(parent))
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	return validation.CertificateArn, nil
}

// accessLogPrefix is where the load balancer writes in its bucket (AWS adds AWSLogs/...).
const accessLogPrefix = "alb"

// accessLogBucket is the S3 bucket the load balancer writes its access logs to: private (all
// public access blocked, objects owned by the bucket), TLS only, versioned, encrypted with
// S3's keys (the only encryption ALB access logs support), its logs expired after
// AccessLogDays, and protected like the stack's other data. It returns the bucket and its
// policy, which lets the Elastic Load Balancing account of the region write, as the ALB user
// guide ("Enable access logs for your Application Load Balancer") documents for regions
// older than August 2022 (elb.getServiceAccount knows their accounts).
func accessLogBucket(ctx *pulumi.Context, name string, a AwsLoadBalancerArgs, parent pulumi.Resource) (*s3.BucketV2, pulumi.Resource, error) {
	rt := a.Runtime
	bucket, err := s3.NewBucketV2(ctx, name+"-access-logs", &s3.BucketV2Args{
		BucketPrefix: pulumi.String(physicalName(ctx, "alb-logs-")),
		// A protected bucket keeps its logs; an unprotected one (a deliberate teardown) may
		// be deleted with them.
		ForceDestroy: pulumi.Bool(!rt.Protect),
	}, rt.stateful(parent)...)
	if err != nil {
		return nil, nil, err
	}
	opt := pulumi.Parent(parent)
	if _, err := s3.NewBucketPublicAccessBlock(ctx, name+"-access-logs", &s3.BucketPublicAccessBlockArgs{
		Bucket:          bucket.ID(),
		BlockPublicAcls: pulumi.Bool(true), BlockPublicPolicy: pulumi.Bool(true),
		IgnorePublicAcls: pulumi.Bool(true), RestrictPublicBuckets: pulumi.Bool(true),
	}, opt); err != nil {
		return nil, nil, err
	}
	if _, err := s3.NewBucketOwnershipControls(ctx, name+"-access-logs", &s3.BucketOwnershipControlsArgs{
		Bucket: bucket.ID(),
		Rule:   s3.BucketOwnershipControlsRuleArgs{ObjectOwnership: pulumi.String("BucketOwnerEnforced")},
	}, opt); err != nil {
		return nil, nil, err
	}
	if _, err := s3.NewBucketServerSideEncryptionConfigurationV2(ctx, name+"-access-logs", &s3.BucketServerSideEncryptionConfigurationV2Args{
		Bucket: bucket.ID(),
		Rules: s3.BucketServerSideEncryptionConfigurationV2RuleArray{s3.BucketServerSideEncryptionConfigurationV2RuleArgs{
			ApplyServerSideEncryptionByDefault: s3.BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefaultArgs{
				SseAlgorithm: pulumi.String("AES256"),
			},
		}},
	}, opt); err != nil {
		return nil, nil, err
	}
	if _, err := s3.NewBucketVersioningV2(ctx, name+"-access-logs", &s3.BucketVersioningV2Args{
		Bucket:                  bucket.ID(),
		VersioningConfiguration: s3.BucketVersioningV2VersioningConfigurationArgs{Status: pulumi.String("Enabled")},
	}, opt); err != nil {
		return nil, nil, err
	}
	if _, err := s3.NewBucketLifecycleConfigurationV2(ctx, name+"-access-logs", &s3.BucketLifecycleConfigurationV2Args{
		Bucket: bucket.ID(),
		Rules: s3.BucketLifecycleConfigurationV2RuleArray{s3.BucketLifecycleConfigurationV2RuleArgs{
			Id:                          pulumi.String("expire-access-logs"),
			Status:                      pulumi.String("Enabled"),
			Filter:                      s3.BucketLifecycleConfigurationV2RuleFilterArgs{Prefix: pulumi.String("")},
			Expiration:                  s3.BucketLifecycleConfigurationV2RuleExpirationArgs{Days: pulumi.Int(a.AccessLogDays)},
			NoncurrentVersionExpiration: s3.BucketLifecycleConfigurationV2RuleNoncurrentVersionExpirationArgs{NoncurrentDays: pulumi.Int(1)},
			AbortIncompleteMultipartUpload: s3.BucketLifecycleConfigurationV2RuleAbortIncompleteMultipartUploadArgs{
				DaysAfterInitiation: pulumi.Int(1),
			},
		}},
	}, opt); err != nil {
		return nil, nil, err
	}
	elbAccount := elb.GetServiceAccountOutput(ctx, elb.GetServiceAccountOutputArgs{Region: pulumi.String(rt.Account.Region)}, opt)
	bucketPolicy, err := s3.NewBucketPolicy(ctx, name+"-access-logs", &s3.BucketPolicyArgs{
		Bucket: bucket.ID(),
		Policy: pulumi.JSONMarshal(pulumi.Map{
			"Version": pulumi.String("2012-10-17"),
			"Statement": pulumi.Array{
				pulumi.Map{
					"Sid":       pulumi.String("TLSOnly"),
					"Effect":    pulumi.String("Deny"),
					"Principal": pulumi.String("*"),
					"Action":    pulumi.String("s3:*"),
					"Resource":  pulumi.StringArray{bucket.Arn, pulumi.Sprintf("%s/*", bucket.Arn)},
					"Condition": pulumi.Map{"Bool": pulumi.Map{"aws:SecureTransport": pulumi.String("false")}},
				},
				pulumi.Map{
					"Sid":       pulumi.String("LoadBalancerWritesAccessLogs"),
					"Effect":    pulumi.String("Allow"),
					"Principal": pulumi.Map{"AWS": elbAccount.Arn()},
					"Action":    pulumi.String("s3:PutObject"),
					"Resource":  pulumi.Sprintf("%s/%s/AWSLogs/%s/*", bucket.Arn, accessLogPrefix, rt.Account.ID),
				},
			},
		}),
	}, opt)
	return bucket, bucketPolicy, err
}

// webACL puts an AWS WAF web ACL in front of the load balancer: AWS's common rule set and
// known bad inputs (which includes Log4j's), the anonymous-IP list counted only (it lists
// hosting providers, where CI and monitoring run, and VPNs; its metrics show who would be
// blocked), and a per-IP rate limit. Its requests are logged, encrypted, with the stack's
// retention.
func webACL(ctx *pulumi.Context, name string, a AwsLoadBalancerArgs, l *LoadBalancer) (*wafv2.WebAcl, error) {
	rt := a.Runtime
	visibility := func(metric string) wafv2.WebAclRuleVisibilityConfigArgs {
		return wafv2.WebAclRuleVisibilityConfigArgs{
			CloudwatchMetricsEnabled: pulumi.Bool(true), SampledRequestsEnabled: pulumi.Bool(true),
			MetricName: pulumi.String(physicalName(ctx, metric)),
		}
	}
	managed := func(priority int, group string, count bool) wafv2.WebAclRuleArgs {
		override := wafv2.WebAclRuleOverrideActionArgs{None: wafv2.WebAclRuleOverrideActionNoneArgs{}}
		if count {
			override = wafv2.WebAclRuleOverrideActionArgs{Count: wafv2.WebAclRuleOverrideActionCountArgs{}}
		}
		return wafv2.WebAclRuleArgs{
			Name: pulumi.String(group), Priority: pulumi.Int(priority), OverrideAction: override,
			Statement: wafv2.WebAclRuleStatementArgs{
				ManagedRuleGroupStatement: wafv2.WebAclRuleStatementManagedRuleGroupStatementArgs{
					VendorName: pulumi.String("AWS"), Name: pulumi.String(group),
				},
			},
			VisibilityConfig: visibility(group),
		}
	}
	acl, err := wafv2.NewWebAcl(ctx, name+"-waf", &wafv2.WebAclArgs{
		Name:          pulumi.String(physicalName(ctx, "waf")),
		Description:   pulumi.String("sudoku: AWS managed rules and a per-IP rate limit in front of the load balancer"),
		Scope:         pulumi.String("REGIONAL"),
		DefaultAction: wafv2.WebAclDefaultActionArgs{Allow: wafv2.WebAclDefaultActionAllowArgs{}},
		Rules: wafv2.WebAclRuleArray{
			managed(10, "AWSManagedRulesCommonRuleSet", false),
			managed(20, "AWSManagedRulesKnownBadInputsRuleSet", false),
			managed(30, "AWSManagedRulesAnonymousIpList", true),
			wafv2.WebAclRuleArgs{
				Name: pulumi.String("rate-limit-per-ip"), Priority: pulumi.Int(40),
				Action: wafv2.WebAclRuleActionArgs{Block: wafv2.WebAclRuleActionBlockArgs{}},
				Statement: wafv2.WebAclRuleStatementArgs{
					RateBasedStatement: wafv2.WebAclRuleStatementRateBasedStatementArgs{
						Limit: pulumi.Int(a.WafRateLimit), AggregateKeyType: pulumi.String("IP"), EvaluationWindowSec: pulumi.Int(300),
					},
				},
				VisibilityConfig: visibility("rate-limit-per-ip"),
			},
		},
		VisibilityConfig: wafv2.WebAclVisibilityConfigArgs{
			CloudwatchMetricsEnabled: pulumi.Bool(true), SampledRequestsEnabled: pulumi.Bool(true),
			MetricName: pulumi.String(physicalName(ctx, "waf")),
		},
	}, pulumi.Parent(l))
	if err != nil {
		return nil, err
	}
	if _, err := wafv2.NewWebAclAssociation(ctx, name+"-waf", &wafv2.WebAclAssociationArgs{
		ResourceArn: l.Alb.Arn, WebAclArn: acl.Arn,
	}, pulumi.Parent(l)); err != nil {
		return nil, err
	}
	// AWS WAF logs only to log groups whose names start with aws-waf-logs-.
	logs, err := rt.newLogGroup(ctx, name+"-waf-logs", "aws-waf-logs-"+physicalName(ctx, "waf"), l)
	if err != nil {
		return nil, err
	}
	_, err = wafv2.NewWebAclLoggingConfiguration(ctx, name+"-waf", &wafv2.WebAclLoggingConfigurationArgs{
		ResourceArn: acl.Arn, LogDestinationConfigs: pulumi.StringArray{logs.Arn},
	}, pulumi.Parent(l))
	return acl, err
}

// awsLoadBalancer is the ALB side of a LoadBalancer.
type awsLoadBalancer struct {
	// Alb and the target groups are the AWS side (AWS only), with the access logs' bucket
	// and the WAF web ACL (nil when the WAF is off).
	Alb                *lb.LoadBalancer
	AppTargetGroup     *lb.TargetGroup
	MercureTargetGroup *lb.TargetGroup
	AccessLogs         *s3.BucketV2
	WebACL             *wafv2.WebAcl
}
