package e2e

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wasmgate/wasmgate/test/internal/gatewaytest"
)

// The deployment files (Dockerfile, deploy/) ship gateway configs, one of
// them inside a Kubernetes ConfigMap: each must pass `wasmgate validate`,
// and the files around them must agree with them (ports, paths, grace
// periods longer than the drain). Docker and a cluster are not needed:
// what can be checked without them is.

// repo is the repository root, from test/e2e.
var repo = filepath.Join("..", "..")

func readRepo(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo, path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// deployEnv is what the deployments provide: the secrets the configs read.
var deployEnv = []string{
	"WASMGATE_ADMIN_TOKEN=deploy-test-admin-token-0123456789",
	"WASMGATE_METRICS_TOKEN=deploy-test-metrics-token-0123456789",
}

// shippedConfigs are the gateway configs of the deployment files, by where
// they come from.
func shippedConfigs(t *testing.T) map[string][]byte {
	t.Helper()
	var cm struct {
		Kind string            `yaml:"kind"`
		Data map[string]string `yaml:"data"`
	}
	if err := yaml.Unmarshal(readRepo(t, "deploy/k8s/configmap.yaml"), &cm); err != nil || cm.Kind != "ConfigMap" {
		t.Fatalf("deploy/k8s/configmap.yaml: kind %q, %v", cm.Kind, err)
	}
	k8s, ok := cm.Data["gateway.yaml"]
	if !ok {
		t.Fatalf("deploy/k8s/configmap.yaml has no gateway.yaml key: %v", cm.Data)
	}
	return map[string][]byte{
		"deploy/docker/gateway.yaml":               readRepo(t, "deploy/docker/gateway.yaml"),
		"deploy/compose/gateway/gateway.yaml":      readRepo(t, "deploy/compose/gateway/gateway.yaml"),
		"deploy/k8s/configmap.yaml (gateway.yaml)": []byte(k8s),
	}
}

func wasmgate(t *testing.T, env []string, args ...string) (out string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, gatewaytest.Binary(t), args...)
	cmd.Env = append(childEnv(), env...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("wasmgate %v: %v", args, err)
	}
	return buf.String(), code
}

func TestDeployConfigsValidate(t *testing.T) {
	needBinary(t)
	for name, data := range shippedConfigs(t) {
		file := filepath.Join(t.TempDir(), "gateway.yaml")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		// With the secrets the deployment gives it, as the gateway starts.
		if out, code := wasmgate(t, deployEnv, "validate", "-c", file); code != 0 {
			t.Errorf("%s: validate exit %d:\n%s", name, code, out)
		}
		// Without them, as a CI checks it.
		if out, code := wasmgate(t, nil, "validate", "--env-placeholders", "-c", file); code != 0 {
			t.Errorf("%s: validate --env-placeholders exit %d:\n%s", name, code, out)
		}
	}
}

// gatewayConfig is the part of a gateway config the deployment files must
// agree with.
type gatewayConfig struct {
	Server struct {
		DrainDelay   string `yaml:"drain_delay"`
		DrainTimeout string `yaml:"drain_timeout"`
	} `yaml:"server"`
	Admin struct {
		Address string `yaml:"address"`
	} `yaml:"admin"`
}

func parseGatewayConfig(t *testing.T, name string, data []byte) (c gatewayConfig, stop time.Duration, adminPort string) {
	t.Helper()
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	for _, d := range []string{c.Server.DrainDelay, c.Server.DrainTimeout} {
		if d == "" {
			continue
		}
		v, err := time.ParseDuration(d)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		stop += v
	}
	if c.Server.DrainTimeout == "" {
		stop += 30 * time.Second // the default
	}
	_, adminPort, err := net.SplitHostPort(c.Admin.Address)
	if err != nil {
		t.Fatalf("%s: admin.address: %v", name, err)
	}
	return c, stop, adminPort
}

func TestDeployFilesAgree(t *testing.T) {
	configs := shippedConfigs(t)

	t.Run("Dockerfile", func(t *testing.T) {
		df := string(readRepo(t, "Dockerfile"))
		_, _, port := parseGatewayConfig(t, "docker", configs["deploy/docker/gateway.yaml"])
		if !strings.Contains(df, "COPY deploy/docker/gateway.yaml /etc/wasmgate/gateway.yaml") ||
			!strings.Contains(df, `"-c", "/etc/wasmgate/gateway.yaml"`) {
			t.Error("the Dockerfile does not install deploy/docker/gateway.yaml where its CMD reads it")
		}
		hc := regexp.MustCompile(`(?m)^HEALTHCHECK .*\n.*http://127\.0\.0\.1:(\d+)/readyz`).FindStringSubmatch(df)
		if hc == nil || hc[1] != port {
			t.Errorf("HEALTHCHECK asks %v, want /readyz on the default config's admin port %s", hc, port)
		}
		if !regexp.MustCompile(`(?m)^USER [1-9]`).MatchString(df) {
			t.Error("the image does not run as a non-root user")
		}
		if !strings.Contains(df, "CGO_ENABLED=0") {
			t.Error("the binary is not built static (CGO_ENABLED=0)")
		}
	})

	t.Run("compose", func(t *testing.T) {
		var compose struct {
			Services map[string]struct {
				Volumes         []string `yaml:"volumes"`
				StopGracePeriod string   `yaml:"stop_grace_period"`
			} `yaml:"services"`
		}
		if err := yaml.Unmarshal(readRepo(t, "deploy/compose.yaml"), &compose); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"gateway", "redis", "prometheus", "grafana", "otel-collector"} {
			if _, ok := compose.Services[want]; !ok {
				t.Errorf("compose.yaml has no %s service", want)
			}
		}
		for name, s := range compose.Services {
			for _, v := range s.Volumes {
				src := strings.SplitN(v, ":", 2)[0]
				if !strings.HasPrefix(src, ".") {
					continue
				}
				if _, err := os.Stat(filepath.Join(repo, "deploy", src)); err != nil {
					t.Errorf("service %s mounts %s, which is missing: %v", name, src, err)
				}
			}
		}
		_, stop, _ := parseGatewayConfig(t, "compose", configs["deploy/compose/gateway/gateway.yaml"])
		grace, err := time.ParseDuration(compose.Services["gateway"].StopGracePeriod)
		if err != nil || grace <= stop {
			t.Errorf("gateway stop_grace_period %q (%v), want longer than drain_delay + drain_timeout = %v", compose.Services["gateway"].StopGracePeriod, err, stop)
		}
	})

	t.Run("kubernetes", func(t *testing.T) {
		type probe struct {
			HTTPGet struct {
				Path string `yaml:"path"`
				Port string `yaml:"port"`
			} `yaml:"httpGet"`
		}
		var dep struct {
			Spec struct {
				Template struct {
					Spec struct {
						Grace      int `yaml:"terminationGracePeriodSeconds"`
						Containers []struct {
							Args  []string `yaml:"args"`
							Ports []struct {
								Name string `yaml:"name"`
								Port int    `yaml:"containerPort"`
							} `yaml:"ports"`
							Readiness probe `yaml:"readinessProbe"`
							Liveness  probe `yaml:"livenessProbe"`
						} `yaml:"containers"`
					} `yaml:"spec"`
				} `yaml:"template"`
			} `yaml:"spec"`
		}
		if err := yaml.Unmarshal(readRepo(t, "deploy/k8s/deployment.yaml"), &dep); err != nil {
			t.Fatal(err)
		}
		_, stop, adminPort := parseGatewayConfig(t, "k8s", configs["deploy/k8s/configmap.yaml (gateway.yaml)"])
		spec := dep.Spec.Template.Spec
		if time.Duration(spec.Grace)*time.Second <= stop {
			t.Errorf("terminationGracePeriodSeconds %d, want longer than drain_delay + drain_timeout = %v", spec.Grace, stop)
		}
		c := spec.Containers[0]
		if !strings.Contains(strings.Join(c.Args, " "), "-c /etc/wasmgate/gateway.yaml") {
			t.Errorf("args %v do not read the ConfigMap's gateway.yaml at /etc/wasmgate", c.Args)
		}
		ports := map[string]int{}
		for _, p := range c.Ports {
			ports[p.Name] = p.Port
		}
		if strconv.Itoa(ports["admin"]) != adminPort {
			t.Errorf("container port admin %d, the config's admin API is on %s", ports["admin"], adminPort)
		}
		if c.Readiness.HTTPGet.Path != "/readyz" || c.Readiness.HTTPGet.Port != "admin" {
			t.Errorf("readiness probe %+v, want /readyz on admin", c.Readiness.HTTPGet)
		}
		if c.Liveness.HTTPGet.Path != "/healthz" || c.Liveness.HTTPGet.Port != "admin" {
			t.Errorf("liveness probe %+v, want /healthz on admin", c.Liveness.HTTPGet)
		}
		for _, kind := range []string{"PodDisruptionBudget", "HorizontalPodAutoscaler"} {
			found := false
			for _, f := range []string{"pdb.yaml", "hpa.yaml"} {
				found = found || bytes.Contains(readRepo(t, "deploy/k8s/"+f), []byte("kind: "+kind))
			}
			if !found {
				t.Errorf("no %s in deploy/k8s", kind)
			}
		}
	})
}

// tool finds a checker, or skips saying how to get it; under CI (where
// .ci/run installs it) it fails instead.
func tool(t *testing.T, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	why := name + " not found (apt-get install " + pkg + "): not checked"
	if os.Getenv("CI") != "" {
		t.Fatal(why + "; under CI this fails rather than skips")
	}
	t.Skip(why)
	return ""
}

// promtool checks the Prometheus configs.
func TestPrometheusConfigs(t *testing.T) {
	promtool := tool(t, "promtool", "prometheus")
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, readRepo(t, "deploy/compose/prometheus-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"deploy/compose/prometheus.yml", "examples/observability/prometheus.yml"} {
		// promtool checks that credentials files exist: point the
		// container's path at the repository's file.
		data := bytes.ReplaceAll(readRepo(t, path), []byte("/etc/prometheus/wasmgate-token"), []byte(token))
		file := filepath.Join(dir, filepath.Base(filepath.Dir(path))+".yml")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(promtool, "check", "config", file).CombinedOutput()
		if err != nil {
			t.Errorf("promtool check config %s: %v\n%s", path, err, out)
		}
	}
}

// systemd-analyze verifies the unit, with its binary path pointing at the
// built one.
func TestSystemdUnit(t *testing.T) {
	analyze := tool(t, "systemd-analyze", "systemd")
	bin := gatewaytest.Binary(t)
	unit := bytes.ReplaceAll(readRepo(t, "deploy/systemd/wasmgate.service"), []byte("/usr/local/bin/wasmgate"), []byte(bin))
	file := filepath.Join(t.TempDir(), "wasmgate.service")
	if err := os.WriteFile(file, unit, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(analyze, "verify", file).CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
