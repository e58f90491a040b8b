package main

import (
	"fmt"
	"slices"
	"strings"
)

// Target is one row of issue 12's target table as this run measured it: the value (or "not measured: why")
// and the commands behind it, from the metrics of the table.
type Target struct {
	Metric   string `json:"metric"`
	Target   string `json:"target"`
	Measured string `json:"measured"`
	Command  string `json:"command"`
}

// Names of the rows the targets read (the steps add them).
const (
	latencyP50Name  = "registration latency p50 at 80 % of the best rate (imsue load)"
	latencyP99Name  = "registration latency p99 at 80 % of the best rate (imsue load)"
	goodputName     = "goodput at 2× the best registration rate offered (imsue load)"
	scaleName       = "registrations/s with 10⁴ vs 10⁶ UEs registered"
	hssSQLiteName   = "HSS Cx MAR transactions/s, embedded SQLite"
	hssPostgresName = "HSS Cx MAR transactions/s, PostgreSQL"
)

// targetPart is one measured value of a target row.
type targetPart struct {
	label string // "P-CSCF", "SQLite", … ("" for a single value)
	names []string
	sum   bool   // the values of names summed (all must be measured)
	unit  string // shown after the value
	scale float64
}

// targetSpec is one row of the table and the metrics it is read from.
type targetSpec struct {
	metric, target string
	parts          []targetPart
}

func memNames(kind string, nodes ...string) []targetPart {
	var out []targetPart
	for _, n := range nodes {
		out = append(out, targetPart{label: n, names: []string{fmt.Sprintf("memory per registered UE, %s, %s", n, kind)}, unit: "KiB", scale: 1.0 / 1024})
	}
	return out
}

func targetSpecs() []targetSpec {
	cpu := func(node string) string { return "CPU time per register operation, " + node }
	return []targetSpec{
		{metric: "full AKA registrations/s through P/I/S/HSS, < 0.1 % failures", target: "≥ 3,000",
			parts: []targetPart{{names: []string{loadMetric["register"].name}, unit: "/s"}}},
		{metric: "p50 / p99 registration latency at 80 % of the best rate", target: "≤ 20 ms / ≤ 100 ms",
			parts: []targetPart{{label: "p50", names: []string{latencyP50Name}, unit: "ms"}, {label: "p99", names: []string{latencyP99Name}, unit: "ms"}}},
		{metric: "calls/s INVITE→BYE through P/S/I/S/P", target: "≥ 2,500",
			parts: []targetPart{{names: []string{loadMetric["call"].name}, unit: "/s"}}},
		{metric: "MESSAGEs/s between registered UEs", target: "≥ 8,000",
			parts: []targetPart{{names: []string{loadMetric["message"].name}, unit: "/s"}}},
		{metric: "CPU per registration, four nodes summed", target: "≤ 0.5 ms",
			parts: []targetPart{{names: []string{cpu("hss"), cpu("scscf"), cpu("icscf"), cpu("pcscf")}, sum: true, unit: "ms"}}},
		{metric: "HSS MAR/s with durable SQN, SQLite / PostgreSQL", target: "≥ 30,000 / ≥ 15,000",
			parts: []targetPart{{label: "SQLite", names: []string{hssSQLiteName}, unit: "/s"}, {label: "PostgreSQL", names: []string{hssPostgresName}, unit: "/s"}}},
		{metric: "heap per registered UE, P-CSCF / S-CSCF", target: "≤ 2 KiB each, with per-contact records",
			parts: memNames("heap in use", "P-CSCF", "S-CSCF")},
		{metric: "registrations/s with 10⁴ vs 10⁶ UEs registered", target: "within 10 % (no O(N) work per request)",
			parts: []targetPart{{names: []string{scaleName}}}},
		{metric: "goodput at 2× the best rate offered", target: "≥ 90 % of the best rate; the excess answered 503 + Retry-After at once",
			parts: []targetPart{{names: []string{goodputName}, unit: "% of the best rate"}}},
		{metric: "side by side with the Kamailio 5.6 IMS CSCFs, same HSS and SIPp scenarios", target: "≥ 3× on both",
			parts: []targetPart{{label: "registrations", names: []string{kamailioRatioNames()[0]}, unit: "×"},
				{label: "calls", names: []string{kamailioRatioNames()[1]}, unit: "×"}}},
		{metric: "resident memory per registered UE, P / I / S", target: "≤ Kamailio's on each node",
			parts: append(memNames("RSS", "P-CSCF", "I-CSCF", "S-CSCF"), kamailioMemParts()...)},
	}
}

func kamailioMemParts() []targetPart {
	var out []targetPart
	for i, n := range []string{"P-CSCF", "I-CSCF", "S-CSCF"} {
		out = append(out, targetPart{label: "Kamailio " + n, names: []string{kamailioMemoryNames()[i]}, unit: "KiB", scale: 1.0 / 1024})
	}
	return out
}

// computeTargets reads the rows from the metrics: a value with its commands, or "not measured" with
// the reason (the metric's error, or the step that did not run). Never a number that was not measured.
func (r *Results) computeTargets() {
	byName := map[string]Metric{}
	for _, m := range r.Metrics {
		byName[m.Name] = m
	}
	r.Targets = nil
	for _, s := range targetSpecs() {
		t := Target{Metric: s.metric, Target: s.target}
		var measured, commands []string
		for _, p := range s.parts {
			v, cmds, why := 0.0, []string(nil), ""
			for _, n := range p.names {
				m, ok := byName[n]
				switch {
				case !ok:
					why = "its step did not run (BENCH_STEPS) or the tree lacks what it needs: no row " + quoteName(n)
				case m.Error != "":
					why = m.Error
				default:
					v += m.Value
					if m.Command != "" && !slices.Contains(cmds, m.Command) {
						cmds = append(cmds, m.Command)
					}
				}
				if why != "" {
					break
				}
			}
			label := ""
			if p.label != "" {
				label = p.label + " "
			}
			if why != "" {
				measured = append(measured, label+"not measured: "+why)
				continue
			}
			if p.scale != 0 {
				v *= p.scale
			}
			measured = append(measured, strings.TrimSpace(label+formatValue(v)+" "+p.unit))
			for _, c := range cmds {
				if !slices.Contains(commands, c) {
					commands = append(commands, c)
				}
			}
		}
		t.Measured = strings.Join(measured, "; ")
		t.Command = strings.Join(commands, " ; ")
		r.Targets = append(r.Targets, t)
	}
}

func quoteName(n string) string { return "“" + n + "”" }
