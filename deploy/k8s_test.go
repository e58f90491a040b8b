package deploy

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/internal/httpauth"
	"github.com/imscore/imscore/services/icscf"
)

// The networks deploy/k8s assumes (kind's and kubeadm's defaults; docs/operations.md says what to change).
var (
	k8sPodNetwork     = netip.MustParsePrefix("10.244.0.0/16")
	k8sServiceNetwork = netip.MustParsePrefix("10.96.0.0/12")
)

// k8sImage is the image every workload runs: the one the Dockerfile builds, loaded into the cluster.
const k8sImage = "imscore:latest"

// kustomization is the part of kustomization.yaml these manifests use (decoded strictly: anything else is an
// error here, so that nothing is silently ignored by the test).
type kustomization struct {
	APIVersion       string   `json:"apiVersion"`
	Kind             string   `json:"kind"`
	Namespace        string   `json:"namespace"`
	Resources        []string `json:"resources"`
	GeneratorOptions struct {
		DisableNameSuffixHash bool `json:"disableNameSuffixHash"`
	} `json:"generatorOptions"`
	ConfigMapGenerator []struct {
		Name  string   `json:"name"`
		Files []string `json:"files"`
	} `json:"configMapGenerator"`
}

// workload is a StatefulSet or a Deployment.
type workload struct {
	kind        string
	meta        metav1.ObjectMeta
	selector    *metav1.LabelSelector
	template    corev1.PodTemplateSpec
	claims      []corev1.PersistentVolumeClaim
	serviceName string
}

// manifests is what one deploy/k8s directory declares, each object decoded strictly into its API type.
type manifests struct {
	dir        string
	kust       kustomization
	configMaps map[string]map[string]string // generated ConfigMap → key → file (relative to dir)
	namespaces map[string]*corev1.Namespace
	secrets    map[string]*corev1.Secret
	services   map[string]*corev1.Service
	workloads  map[string]*workload
	policies   []*networkingv1.NetworkPolicy
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// loadManifests decodes kustomization.yaml and every resource it lists. sigs.k8s.io/yaml's UnmarshalStrict refuses
// unknown and duplicate fields, as `kubectl apply --validate=strict` does; a kind the test does not know is an
// error too.
func loadManifests(dir string) (*manifests, error) {
	m := &manifests{dir: dir, configMaps: map[string]map[string]string{}, namespaces: map[string]*corev1.Namespace{},
		secrets: map[string]*corev1.Secret{}, services: map[string]*corev1.Service{}, workloads: map[string]*workload{}}
	b, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		return nil, err
	}
	if err := yaml.UnmarshalStrict(b, &m.kust); err != nil {
		return nil, fmt.Errorf("kustomization.yaml: %w", err)
	}
	for _, g := range m.kust.ConfigMapGenerator {
		keys := map[string]string{}
		for _, f := range g.Files {
			key, path, ok := strings.Cut(f, "=")
			if !ok {
				key, path = filepath.Base(f), f
			}
			keys[key] = path
		}
		m.configMaps[g.Name] = keys
	}
	var errs []error
	for _, r := range m.kust.Resources {
		b, err := os.ReadFile(filepath.Join(dir, r))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for i, doc := range docSeparator.Split(string(b), -1) {
			if err := m.decode([]byte(doc)); err != nil {
				errs = append(errs, fmt.Errorf("%s document %d: %w", r, i+1, err))
			}
		}
	}
	return m, errors.Join(errs...)
}

// decode adds one YAML document (or nothing, for one that holds only comments).
func (m *manifests) decode(doc []byte) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return err
	}
	if tm.Kind == "" && tm.APIVersion == "" {
		if strings.TrimSpace(regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(string(doc), "")) != "" {
			return errors.New("no apiVersion and kind")
		}
		return nil
	}
	strict := func(obj any) error { return yaml.UnmarshalStrict(doc, obj) }
	switch tm.APIVersion + " " + tm.Kind {
	case "v1 Namespace":
		var o corev1.Namespace
		if err := strict(&o); err != nil {
			return err
		}
		m.namespaces[o.Name] = &o
	case "v1 Secret":
		var o corev1.Secret
		if err := strict(&o); err != nil {
			return err
		}
		m.secrets[o.Name] = &o
	case "v1 Service":
		var o corev1.Service
		if err := strict(&o); err != nil {
			return err
		}
		m.services[o.Name] = &o
	case "apps/v1 StatefulSet":
		var o appsv1.StatefulSet
		if err := strict(&o); err != nil {
			return err
		}
		m.workloads[o.Name] = &workload{kind: tm.Kind, meta: o.ObjectMeta, selector: o.Spec.Selector, template: o.Spec.Template,
			claims: o.Spec.VolumeClaimTemplates, serviceName: o.Spec.ServiceName}
	case "apps/v1 Deployment":
		var o appsv1.Deployment
		if err := strict(&o); err != nil {
			return err
		}
		m.workloads[o.Name] = &workload{kind: tm.Kind, meta: o.ObjectMeta, selector: o.Spec.Selector, template: o.Spec.Template}
	case "networking.k8s.io/v1 NetworkPolicy":
		var o networkingv1.NetworkPolicy
		if err := strict(&o); err != nil {
			return err
		}
		m.policies = append(m.policies, &o)
	default:
		return fmt.Errorf("apiVersion %q kind %q: not a kind these manifests use", tm.APIVersion, tm.Kind)
	}
	return nil
}

// objects returns the metadata of every decoded object.
func (m *manifests) objects() []metav1.ObjectMeta {
	var out []metav1.ObjectMeta
	for _, o := range m.secrets {
		out = append(out, o.ObjectMeta)
	}
	for _, o := range m.services {
		out = append(out, o.ObjectMeta)
	}
	for _, w := range m.workloads {
		out = append(out, w.meta)
	}
	for _, p := range m.policies {
		out = append(out, p.ObjectMeta)
	}
	return out
}

// containerPort finds the container port a Service's or probe's port names (by name or number).
func containerPort(c corev1.Container, p intstr.IntOrString, proto corev1.Protocol) (corev1.ContainerPort, bool) {
	for _, cp := range c.Ports {
		if cp.Protocol == "" {
			cp.Protocol = corev1.ProtocolTCP
		}
		if (p.Type == intstr.String && cp.Name == p.StrVal || p.Type == intstr.Int && cp.ContainerPort == p.IntVal) && cp.Protocol == proto {
			return cp, true
		}
	}
	return corev1.ContainerPort{}, false
}

// labelsMatch reports whether every label of sel is in labels.
func labelsMatch(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return len(sel) > 0
}

// check checks the manifests against each other and against the node configurations their ConfigMaps hold,
// and returns every mistake.
func (m *manifests) check() error {
	var errs []error
	errf := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	// kustomization.yaml lists every manifest here; its ConfigMaps have the names the workloads use.
	if m.kust.APIVersion != "kustomize.config.k8s.io/v1beta1" || m.kust.Kind != "Kustomization" {
		errf("kustomization.yaml: apiVersion %q kind %q", m.kust.APIVersion, m.kust.Kind)
	}
	if !m.kust.GeneratorOptions.DisableNameSuffixHash {
		errf("kustomization.yaml: generatorOptions.disableNameSuffixHash must be true: the manifests name the ConfigMaps")
	}
	files, _ := filepath.Glob(filepath.Join(m.dir, "*.yaml"))
	for _, f := range files {
		if b := filepath.Base(f); b != "kustomization.yaml" && !slices.Contains(m.kust.Resources, b) {
			errf("%s is not in kustomization.yaml's resources", b)
		}
	}
	for name, keys := range m.configMaps {
		for key, path := range keys {
			if _, err := os.Stat(filepath.Join(m.dir, path)); err != nil {
				errf("ConfigMap %s key %s: %v", name, key, err)
			}
		}
	}
	ns := m.kust.Namespace
	if _, ok := m.namespaces[ns]; !ok {
		errf("no Namespace %q (kustomization.yaml's namespace)", ns)
	}
	for _, o := range m.objects() {
		if o.Namespace != ns {
			errf("%s: namespace %q, want %q", o.Name, o.Namespace, ns)
		}
	}

	// Each workload runs one node from the image with its configuration from its ConfigMap.
	var d deployment
	containers := map[string]corev1.Container{}
	for _, n := range nodes() {
		w, ok := m.workloads[n]
		if !ok {
			errf("no StatefulSet or Deployment %q", n)
			continue
		}
		if w.selector == nil || !labelsMatch(w.selector.MatchLabels, w.template.Labels) {
			errf("%s %s: selector %v does not select its own pods %v", w.kind, n, w.selector, w.template.Labels)
		}
		if w.kind == "StatefulSet" {
			if _, ok := m.services[w.serviceName]; !ok {
				errf("StatefulSet %s: serviceName %q is no Service", n, w.serviceName)
			}
		}
		if len(w.template.Spec.Containers) != 1 {
			errf("%s: want one container, got %d", n, len(w.template.Spec.Containers))
			continue
		}
		c := w.template.Spec.Containers[0]
		containers[n] = c
		if c.Image != k8sImage || c.ImagePullPolicy != corev1.PullIfNotPresent {
			errf("%s: image %q pull policy %q: want %s, IfNotPresent (built locally, loaded into the nodes)", n, c.Image, c.ImagePullPolicy, k8sImage)
		}
		cfgPath := "/etc/imscore/" + n + ".yaml"
		if len(c.Command) < 3 || c.Command[0] != n || c.Command[1] != "--config" || c.Command[2] != cfgPath {
			errf("%s: command %v: want [%s --config %s …]", n, c.Command, n, cfgPath)
		}
		for _, arg := range c.Command {
			for _, ref := range regexp.MustCompile(`\$\(([A-Z_]+)\)`).FindAllStringSubmatch(arg, -1) {
				if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == ref[1] }) {
					errf("%s: command uses $(%s), which no env entry defines", n, ref[1])
				}
			}
		}
		vols := map[string]corev1.Volume{}
		for _, v := range w.template.Spec.Volumes {
			vols[v.Name] = v
		}
		mounts := map[string]corev1.VolumeMount{} // by mount path
		for _, vm := range c.VolumeMounts {
			mounts[vm.MountPath] = vm
			v, isVol := vols[vm.Name]
			isClaim := slices.ContainsFunc(w.claims, func(p corev1.PersistentVolumeClaim) bool { return p.Name == vm.Name })
			switch {
			case !isVol && !isClaim:
				errf("%s: volumeMount %s names no volume", n, vm.Name)
			case isVol && v.ConfigMap != nil:
				keys, ok := m.configMaps[v.ConfigMap.Name]
				if !ok {
					errf("%s: ConfigMap %s is not generated by kustomization.yaml", n, v.ConfigMap.Name)
				} else if _, ok := keys[vm.SubPath]; vm.SubPath != "" && !ok {
					errf("%s: subPath %s is no key of ConfigMap %s", n, vm.SubPath, v.ConfigMap.Name)
				}
			case isVol && v.Secret != nil:
				if _, ok := m.secrets[v.Secret.SecretName]; !ok {
					errf("%s: Secret %s is not in the manifests", n, v.Secret.SecretName)
				}
			}
		}
		// The configuration file: its ConfigMap's source, loaded as the node loads it.
		cm, ok := mounts[cfgPath]
		if !ok || vols[cm.Name].ConfigMap == nil {
			errf("%s: nothing mounts a ConfigMap at %s", n, cfgPath)
			continue
		}
		src, ok := m.configMaps[vols[cm.Name].ConfigMap.Name][cm.SubPath]
		if !ok {
			continue // reported above
		}
		if err := loadNode(n, filepath.Join(m.dir, src), &d); err != nil {
			errf("%s: %w", n, err)
			continue
		}
		// Probes: /readyz for readiness, /healthz for liveness, on the node's admin port.
		admin := map[string]string{"hss": d.hss.API.Listen, "icscf": d.icscf.HTTPListen, "scscf": d.scscf.HTTPListen, "pcscf": d.pcscf.HTTP}[n]
		_, adminPort, _ := net.SplitHostPort(admin)
		for _, p := range []struct {
			kind, path string
			probe      *corev1.Probe
		}{{"readinessProbe", "/readyz", c.ReadinessProbe}, {"livenessProbe", "/healthz", c.LivenessProbe}} {
			if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path {
				errf("%s: %s: want an httpGet of %s", n, p.kind, p.path)
				continue
			}
			if cp, ok := containerPort(c, p.probe.HTTPGet.Port, corev1.ProtocolTCP); !ok || strconv.Itoa(int(cp.ContainerPort)) != adminPort {
				errf("%s: %s on port %s, but the node's admin listener is %s", n, p.kind, p.probe.HTTPGet.Port.String(), admin)
			}
		}
		// A storing node keeps its SQLite file on its PersistentVolumeClaim.
		store := map[string]string{"hss": d.hss.Store.DSN, "scscf": d.scscf.DB, "pcscf": d.pcscf.DB}
		if dsn, ok := store[n]; ok {
			vm, mounted := mounts[dataDir]
			if !strings.HasPrefix(sqlitePath(dsn), dataDir+"/") || !mounted ||
				!slices.ContainsFunc(w.claims, func(p corev1.PersistentVolumeClaim) bool { return p.Name == vm.Name }) {
				errf("%s: store %q is not on a volumeClaimTemplate mounted at %s", n, dsn, dataDir)
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...) // the checks below need every node loaded
	}
	// The HSS's tokens file is a key of the mounted Secret.
	tf := d.hss.API.Security.TokensFile
	if vm, ok := containerMount(containers["hss"], filepath.Dir(tf)); !ok {
		errf("hss: api.tokens_file %s is in no mounted volume", tf)
	} else if v := volume(m.workloads["hss"], vm.Name); v.Secret == nil || m.secrets[v.Secret.SecretName] == nil {
		errf("hss: api.tokens_file %s is not in a Secret", tf)
	} else if s := m.secrets[v.Secret.SecretName]; s.StringData[filepath.Base(tf)] == "" {
		errf("hss: Secret %s has no key %s", s.Name, filepath.Base(tf))
	} else {
		if err := loadTokensText(s.StringData[filepath.Base(tf)]); err != nil {
			errf("hss: Secret %s: %w", s.Name, err)
		}
	}

	// Services select their node's pods and forward to its container ports.
	svcAddr := map[string]netip.Addr{}
	for name, s := range m.services {
		var selected []string
		for wn, w := range m.workloads {
			if labelsMatch(s.Spec.Selector, w.template.Labels) {
				selected = append(selected, wn)
			}
		}
		if len(selected) != 1 {
			errf("Service %s: selector %v selects %v, want one workload", name, s.Spec.Selector, selected)
			continue
		}
		c := containers[selected[0]]
		for _, p := range s.Spec.Ports {
			proto := p.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			if cp, ok := containerPort(c, p.TargetPort, proto); !ok || cp.ContainerPort != p.Port {
				errf("Service %s port %s (%d/%s): targetPort %s is no %s port %d of %s", name, p.Name, p.Port, proto,
					p.TargetPort.String(), proto, p.Port, selected[0])
			}
		}
		ip, err := netip.ParseAddr(s.Spec.ClusterIP)
		if err != nil || !k8sServiceNetwork.Contains(ip) {
			errf("Service %s: clusterIP %q: want a fixed address in %s", name, s.Spec.ClusterIP, k8sServiceNetwork)
			continue
		}
		svcAddr[name] = ip
	}
	// servicePort is the Service's address with its port named by prefix (sip-udp, diameter, …).
	servicePort := func(name, portName string) string {
		if s := m.services[name]; s != nil {
			for _, p := range s.Spec.Ports {
				if p.Name == portName {
					return netip.AddrPortFrom(svcAddr[name], uint16(p.Port)).String()
				}
			}
		}
		return "(no port " + portName + " on Service " + name + ")"
	}

	// Next hops and advertised hosts are the Services' fixed addresses; listeners are on the pod.
	icscfSIP, scscfSIP := servicePort("icscf", "sip-udp"), servicePort("scscf", "sip-udp")
	if d.pcscf.ICSCF != icscfSIP {
		errf("pcscf icscf %s: the I-CSCF's Service is %s", d.pcscf.ICSCF, icscfSIP)
	}
	if want := []string{"--sip-listen", "$(POD_IP):" + portOf(servicePort("pcscf", "sip-udp"))}; !slices.Equal(containers["pcscf"].Command[3:], want) {
		errf("pcscf: command %v: want %v after --config (a pod owns no Service address)", containers["pcscf"].Command, want)
	}
	if l := d.icscf.SIP.Listen[0]; l.Advertise != svcAddr["icscf"].String() || portOf(l.Addr) != portOf(icscfSIP) {
		errf("icscf sip.listen[0] %s advertise %s: want port %s, advertise %s", l.Addr, l.Advertise, portOf(icscfSIP), svcAddr["icscf"])
	}
	if d.scscf.SIP.Advertise != svcAddr["scscf"].String() || portOf(d.scscf.SIP.Listen) != portOf(scscfSIP) {
		errf("scscf sip.listen %s advertise %s: want port %s, advertise %s", d.scscf.SIP.Listen, d.scscf.SIP.Advertise, portOf(scscfSIP), svcAddr["scscf"])
	}
	if !slices.ContainsFunc(d.icscf.SCSCFs, func(s icscf.SCSCF) bool { return s.Name == d.scscf.ServerName && s.Address == scscfSIP }) {
		errf("icscf scscfs %v: want %s at the S-CSCF's Service %s", d.icscf.SCSCFs, d.scscf.ServerName, scscfSIP)
	}
	var route sip.Uri
	if err := sip.ParseUri(d.scscf.ICSCF, &route); err != nil || netip.AddrPortFrom(netip.MustParseAddr(route.Host), uint16(route.Port)).String() != icscfSIP {
		errf("scscf icscf %s: want a loose route to the I-CSCF's Service %s", d.scscf.ICSCF, icscfSIP)
	}
	// The CSCFs dial the HSS by its Service's name, on the port the HSS listens on.
	hssDiameter := "hss:" + portOf(servicePort("hss", "diameter"))
	if portOf(d.hss.Diameter.Listen) != portOf(hssDiameter) || d.scscf.Diameter.HSS != hssDiameter || !slices.Equal(d.icscf.Diameter.HSS, []string{hssDiameter}) {
		errf("diameter: hss listens on %s, scscf dials %s, icscf %v: want %s", d.hss.Diameter.Listen, d.scscf.Diameter.HSS, d.icscf.Diameter.HSS, hssDiameter)
	}
	// The trust domains and the HSS's peers: the pod network, where the nodes send from.
	podAddr := k8sPodNetwork.Addr().Next()
	for node, nets := range map[string][]string{"icscf": d.icscf.TrustedNetworks, "scscf": d.scscf.TrustedNetworks, "pcscf": d.pcscf.TrustedNetworks} {
		if !slices.ContainsFunc(nets, func(s string) bool {
			p, err := netip.ParsePrefix(s)
			return err == nil && p.Contains(podAddr) && p.Bits() <= k8sPodNetwork.Bits()
		}) {
			errf("%s trusted_networks %v: want the pod network %s", node, nets, k8sPodNetwork)
		}
	}
	for _, c := range []struct{ node, host, realm, role string }{
		{"icscf", d.icscf.Diameter.OriginHost, d.icscf.Diameter.OriginRealm, hss.RoleICSCF},
		{"scscf", d.scscf.Diameter.OriginHost, d.scscf.Diameter.OriginRealm, hss.RoleSCSCF},
	} {
		if !hssAllows(d.hss, c.host, c.realm, c.role, podAddr) {
			errf("hss diameter.peers: the %s (%s, role %s) from the pod network is not allowed", c.node, c.host, c.role)
		}
	}

	// The NetworkPolicies select our pods and let our pods in.
	for _, p := range m.policies {
		for _, e := range p.Spec.PodSelector.MatchExpressions {
			for _, v := range e.Values {
				if _, ok := m.workloads[v]; !ok {
					errf("NetworkPolicy %s: %s %s: no workload %q", p.Name, e.Key, e.Operator, v)
				}
			}
		}
		for _, in := range p.Spec.Ingress {
			for _, from := range in.From {
				if from.PodSelector == nil {
					continue
				}
				for _, n := range nodes() {
					if !labelsMatch(from.PodSelector.MatchLabels, m.workloads[n].template.Labels) {
						errf("NetworkPolicy %s: ingress from %v leaves out the %s's pods", p.Name, from.PodSelector.MatchLabels, n)
					}
				}
			}
		}
	}
	return errors.Join(errs...)
}

// loadTokensText loads a tokens file's text as the HSS loads the file.
func loadTokensText(text string) error {
	f, err := os.CreateTemp("", "imscore-k8s-tokens-*.yaml")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	_, err = httpauth.LoadTokens(f.Name())
	return err
}

func portOf(hostport string) string {
	_, p, _ := net.SplitHostPort(hostport)
	return p
}

func containerMount(c corev1.Container, path string) (corev1.VolumeMount, bool) {
	for _, vm := range c.VolumeMounts {
		if vm.MountPath == path {
			return vm, true
		}
	}
	return corev1.VolumeMount{}, false
}

func volume(w *workload, name string) corev1.Volume {
	for _, v := range w.template.Spec.Volumes {
		if v.Name == name {
			return v
		}
	}
	return corev1.Volume{}
}

// TestK8sManifests validates deploy/k8s without a cluster or network: every manifest strictly decoded into the
// Kubernetes API types, and names, labels, ports, probes, volumes and addresses checked against each other and
// against the node configurations of the ConfigMaps.
func TestK8sManifests(t *testing.T) {
	m, err := loadManifests(k8sDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.check(); err != nil {
		t.Fatal(err)
	}
}

// TestK8sManifestsCatchMistakes: each mistake in a copy of deploy/k8s is found, naming the culprit.
func TestK8sManifestsCatchMistakes(t *testing.T) {
	tests := []struct {
		name, file, old, new, wantErr string
	}{
		{"misspelt field", "hss.yaml", "readinessProbe:", "readinesProbe:", "unknown field"},
		{"unknown kind", "namespace.yaml", "kind: Namespace", "kind: Namespaces", "not a kind"},
		{"Service address the configs do not use", "scscf.yaml", "clusterIP: 10.96.122.12", "clusterIP: 10.96.122.99", "scscf"},
		{"ConfigMap not generated", "pcscf.yaml", "name: imscore-pcscf", "name: imscore-pcsf", "not generated"},
		{"Service port to no container port", "icscf.yaml", "targetPort: admin", "targetPort: admn", "targetPort admn"},
		{"probe path", "hss.yaml", "path: /readyz", "path: /ready", "/readyz"},
		{"probe port", "scscf.yaml", "port: admin\n            periodSeconds: 10", "port: sip-tcp\n            periodSeconds: 10", "livenessProbe"},
		{"selector", "icscf.yaml", "  selector: *labels", "  selector: {app.kubernetes.io/name: icscf-x}", "selects []"},
		{"manifest left out", "kustomization.yaml", "  - network-policy.yaml\n", "", "network-policy.yaml is not in"},
		{"advertised address", "config/icscf.yaml", "advertise: 10.96.122.11", "advertise: 10.96.122.12", "advertise"},
		{"store off the volume", "config/scscf.yaml", "db: sqlite:///var/lib/imscore/scscf.db", "db: sqlite:///tmp/scscf.db", "volumeClaimTemplate"},
		{"unset $(VAR)", "pcscf.yaml", "name: POD_IP", "name: POD_ADDR", "$(POD_IP)"},
		{"namespace", "api-tokens.yaml", "namespace: imscore", "namespace: default", "namespace \"default\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, sub := range []string{".", "config"} {
				files, _ := filepath.Glob(filepath.Join(k8sDir, sub, "*.yaml"))
				if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
					t.Fatal(err)
				}
				for _, f := range files {
					copyFile(t, f, filepath.Join(dir, sub, filepath.Base(f)))
				}
			}
			p := filepath.Join(dir, tt.file)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			edited := strings.Replace(string(b), tt.old, tt.new, 1)
			if edited == string(b) {
				t.Fatalf("%s has no %q: update the test", tt.file, tt.old)
			}
			if err := os.WriteFile(p, []byte(edited), 0o644); err != nil {
				t.Fatal(err)
			}
			m, err := loadManifests(dir)
			if err == nil {
				err = m.check()
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("want an error naming %q, got %v", tt.wantErr, err)
			}
		})
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
