package mocks

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// mockOutputs returns the ID and outputs a provider would: the inputs, plus what the provider
// computes for that type.
func mockOutputs(r *Resource, stack string) (string, resource.PropertyMap) {
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
		set("result", fakeHex("password:"+r.Name, length))
		set("bcryptHash", "$2a$10$"+fakeHex("bcrypt:"+r.Name, 53))
	case "docker:index/network:Network":
		id = fakeHex("network:"+str("name"), 64)
	case "docker:index/volume:Volume":
		id = str("name")
		set("mountpoint", fmt.Sprintf("/var/lib/docker/volumes/%s/_data", str("name")))
	case "docker:index/image:Image":
		digest := "sha256:" + fakeHex("image:"+str("imageName"), 64)
		if v, ok := r.Inputs["skipPush"]; ok && v.IsBool() && v.BoolValue() {
			set("repoDigest", digest) // a local image's "digest" is its ID
		} else {
			set("repoDigest", repoName(str("imageName"))+"@"+digest)
		}
		id = digest
	case "docker:index/container:Container":
		id = fakeHex("container:"+str("name"), 64)
	}
	return id, out
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

// mockInvoke answers provider functions.
func mockInvoke(token string, args resource.PropertyMap) (resource.PropertyMap, bool) {
	return nil, false
}
