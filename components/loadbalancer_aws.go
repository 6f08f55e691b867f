package components

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/acm"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lb"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/route53"
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
}

func (a AwsLoadBalancerArgs) withDefaults() AwsLoadBalancerArgs {
	a.Runtime = a.Runtime.withDefaults()
	if a.SslPolicy == "" {
		a.SslPolicy = "ELBSecurityPolicy-TLS13-1-2-2021-06"
	}
	if a.IdleTimeout == 0 {
		a.IdleTimeout = 120
	}
	return a
}

// mercureHeartbeat is the hub's default heartbeat interval, in seconds.
const mercureHeartbeat = 40

func (a AwsLoadBalancerArgs) validate() error {
	if err := a.Runtime.validate("loadbalancer", false); err != nil {
		return err
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
	var err error
	l.Alb, err = lb.NewLoadBalancer(ctx, name+"-alb", &lb.LoadBalancerArgs{
		LoadBalancerType:         pulumi.String("application"),
		Internal:                 pulumi.Bool(false),
		Subnets:                  rt.Network.PublicSubnetIDs,
		SecurityGroups:           pulumi.StringArray{rt.Network.SecurityGroupIDs.MapIndex(pulumi.String(TierAlb))},
		DropInvalidHeaderFields:  pulumi.Bool(true),
		EnableDeletionProtection: pulumi.Bool(a.DeletionProtection),
		IdleTimeout:              pulumi.Int(a.IdleTimeout),
		EnableHttp2:              pulumi.Bool(true),
	}, pulumi.Parent(l))
	if err != nil {
		return err
	}
	if l.AppTargetGroup, err = targetGroup(ctx, name+"-app", rt, PhpPort, "/status.php", 30, l); err != nil {
		return err
	}
	// SSE streams are long; a hub being replaced drops them at once, and clients reconnect.
	if l.MercureTargetGroup, err = targetGroup(ctx, name+"-mercure", rt, MercurePort, "/healthz", 5, l); err != nil {
		return err
	}

	forwardToApp := lb.ListenerDefaultActionArray{lb.ListenerDefaultActionArgs{
		Type: pulumi.String("forward"), TargetGroupArn: l.AppTargetGroup.Arn,
	}}
	var serving *lb.Listener
	if a.HTTPS() {
		certificate, err := certificateArn(ctx, name, a, l)
		if err != nil {
			return err
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
			return err
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
			return err
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
			return err
		}
	}
	mercureRule, err := lb.NewListenerRule(ctx, name+"-mercure", &lb.ListenerRuleArgs{
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
