package main

import (
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// A preview right after `pulumi up` must find nothing to change. The docker provider
// (pulumi-docker v4.11.2 bridges terraform-provider-docker v3.9.0, its upstream submodule at
// d7d7ff7f) reads every container back from Docker after creating it and at each refresh, and
// the next preview diffs the program's inputs against what it read. Two things make a diff out
// of nothing:
//
//   - a field Docker fills in when the program leaves it unset, which the provider reads back
//     and whose schema is Optional without Computed or a Default: unset in the program, set in
//     the state, a "~ update" in every preview (memory_swap, on the first real run);
//   - a value the provider reads back in another spelling than the program wrote (the
//     healthcheck's durations come back as Go's time.Duration.String, "1m0s" for "60s").
//
// containerFields classifies every input of docker.ContainerArgs by what the provider does
// with it, from its schema (internal/provider/resource_docker_container.go) and its read
// (resourceDockerContainerRead in resource_docker_container_funcs.go), both at v3.9.0. A field
// that a new pulumi-docker adds fails TestEveryContainerFieldIsClassified until someone reads
// the provider and says which kind it is.
var containerFields = map[string]string{
	// Never read back (or Computed, with nothing to read): what the program writes stays.
	"Attach": "not read", "ContainerReadRefreshTimeoutMilliseconds": "not read", "DestroyGraceSeconds": "not read",
	"Envs": "not read (Computed)", "Labels": "not read (Computed)", "Logs": "not read", "MustRun": "not read",
	"NetworksAdvanced": "not read", "RemoveVolumes": "not read", "Start": "not read", "Uploads": "not read",
	"Volumes": "not read", "Wait": "not read", "WaitTimeout": "not read", "CgroupParent": "not read",
	"CgroupnsMode": "not read", "CpuPeriod": "not read", "CpuQuota": "not read",
	// Read back, and Computed, or with a Default or a DiffSuppressFunc: left unset, no diff.
	"Command": "read, computed", "Entrypoints": "read, computed", "Hostname": "read, computed",
	"Init": "read, computed", "IpcMode": "read, computed", "LogDriver": "read, computed",
	"Runtime": "read, computed", "SecurityOpts": "read, computed", "ShmSize": "read, computed",
	"StopSignal": "read, computed", "StopTimeout": "read, computed", "Healthcheck": "read, computed; durations normalised",
	"MemoryReservation": "read, default", "NetworkMode": "read, default", "ReadOnly": "read, default",
	"Restart": "read, default", "Rm": "read, default", "StdinOpen": "read, default", "Tty": "read, default",
	"Ports": "read, diff suppressed", "User": "read, diff suppressed", "WorkingDir": "read, diff suppressed",
	"Name": "read, required", "Image": "read, required",
	// Read back, neither Computed nor defaulted: a value Docker fills in must be set.
	"MemorySwap": "read; Docker fills it in",
	// Read back as Docker stores them, which is as given, and Docker fills in nothing when
	// they are unset (moby keeps the zero values of these).
	"Capabilities": "read", "CpuSet": "read", "CpuShares": "read", "Cpus": "read", "Devices": "read",
	"Dns": "read", "DnsOpts": "read", "DnsSearches": "read", "Domainname": "read", "Gpus": "read",
	"GroupAdds": "read", "Hosts": "read", "LogOpts": "read", "MaxRetryCount": "read", "Memory": "read",
	"Mounts": "read", "PidMode": "read", "Privileged": "read", "PublishAllPorts": "read",
	"StorageOpts": "read", "Sysctls": "read", "Tmpfs": "read", "Ulimits": "read", "UsernsMode": "read",
}

func TestEveryContainerFieldIsClassified(t *testing.T) {
	t.Parallel()
	fields := reflect.TypeOf(docker.ContainerArgs{})
	var unknown []string
	for i := range fields.NumField() {
		if _, ok := containerFields[fields.Field(i).Name]; !ok {
			unknown = append(unknown, fields.Field(i).Name)
		}
	}
	sort.Strings(unknown)
	if len(unknown) > 0 {
		t.Errorf("docker.ContainerArgs has fields this test does not know: %v. Read the provider's schema and "+
			"resourceDockerContainerRead for each, and add it to containerFields; a field it reads back that is "+
			"neither Computed nor defaulted, and that Docker fills in, must be set by newContainer", unknown)
	}
	if len(containerFields) != fields.NumField() {
		t.Errorf("containerFields names %d fields, docker.ContainerArgs has %d: remove the ones it no longer has",
			len(containerFields), fields.NumField())
	}
}

// dockerFillsIn is what the Docker daemon sets in a container's host config when the request
// leaves it unset, for the fields the provider reads back without a Computed or a Default:
// moby, daemon/daemon_unix.go, adaptContainerSettings ("By default, MemorySwap is set to twice
// the size of Memory"; seen on Docker 20.10 here: `docker run -m 64m` inspects as MemorySwap
// 134217728). It returns what a read would find, in the provider's units (MiB).
func dockerFillsIn(inputs resource.PropertyMap) map[string]float64 {
	filled := map[string]float64{}
	memory := inputs["memory"]
	if swap := inputs["memorySwap"]; memory.IsNumber() && memory.NumberValue() > 0 && (!swap.IsNumber() || swap.NumberValue() == 0) {
		filled["memorySwap"] = 2 * memory.NumberValue()
	}
	return filled
}

func TestLocalContainersAreWhatTheProviderReadsBack(t *testing.T) {
	t.Parallel()
	run := mustRun(t, "local", nil)
	containers := run.OfType("docker:index/container:Container")
	if len(containers) != 5 {
		t.Fatalf("%d containers, want 5", len(containers))
	}
	for _, c := range containers {
		for field, value := range dockerFillsIn(c.Inputs) {
			t.Errorf("%s leaves %s unset; Docker sets it to %v, the provider reads that back, and every preview after `pulumi up` shows it changing",
				c.Name, field, value)
		}
		// resourceDockerContainerRead: memory_swap is read as MemorySwap/1024/1024 when
		// positive, else as it is (-1: unlimited). Docker refuses a positive value below the
		// memory limit (verifyPlatformContainerResources).
		if swap, memory := c.Inputs["memorySwap"], c.Inputs["memory"]; swap.IsNumber() && swap.NumberValue() > 0 && swap.NumberValue() < memory.NumberValue() {
			t.Errorf("%s: memorySwap %v is below memory %v, which Docker refuses", c.Name, swap.NumberValue(), memory.NumberValue())
		}
		health := c.Inputs["healthcheck"].ObjectValue()
		for _, key := range []resource.PropertyKey{"interval", "timeout", "startPeriod", "startInterval"} {
			v, ok := health[key]
			if !ok {
				continue // the schema's Default, "0s", is what Docker's zero reads back as
			}
			d, err := time.ParseDuration(v.StringValue())
			if err != nil {
				t.Errorf("%s: healthcheck %s %q is no duration: %v", c.Name, key, v.StringValue(), err)
				continue
			}
			// The provider reads Config.Healthcheck.<field>.String() (a time.Duration).
			if read := d.String(); read != v.StringValue() {
				t.Errorf("%s: healthcheck %s is written %q; the provider reads it back as %q, a change in every preview",
					c.Name, key, v.StringValue(), read)
			}
		}
	}
}
