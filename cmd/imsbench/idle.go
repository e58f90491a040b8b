package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// idleSeconds is how long idleCPU watches the nodes with no traffic.
const idleSeconds = 10

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat: 100 on every Linux architecture Go
// supports (the kernel converts to it for user space whatever its own HZ).
const clockTicks = 100

// idleCPU measures each node's CPU use with no traffic, after the load runs (their UEs still registered): the
// fixed cost of timers, flush loops and the runtime that every "CPU time per operation" row includes, spread
// over fewer operations at a lower rate. Two runs at different best rates compare only net of it.
func (b *bench) idleCPU(ctx context.Context, c *core) {
	before := map[string]time.Duration{}
	for _, n := range c.nodes {
		if d, err := procCPU(n.cmd.Process.Pid); err == nil {
			before[n.name] = d
		}
	}
	start := time.Now()
	select {
	case <-ctx.Done():
		return
	case <-time.After(idleSeconds * time.Second):
	}
	wall := time.Since(start)
	for _, n := range c.nodes {
		name := "idle CPU, " + n.name
		cmdline := fmt.Sprintf("/proc/<%s pid>/stat utime+stime over %d s with no traffic, after the load runs", n.name, idleSeconds)
		b0, ok := before[n.name]
		b1, err := procCPU(n.cmd.Process.Pid)
		if !ok || err != nil {
			b.res.failed(fmt.Errorf("reading the CPU time of %s: %v", n.name, err), cmdline, name)
			continue
		}
		perSecond := float64(b1-b0) / float64(time.Millisecond) / wall.Seconds()
		b.res.add(Metric{Name: name, Value: perSecond, Unit: "ms of CPU per s", Command: cmdline,
			Note: "the fixed cost included in this node's CPU time per operation: at R operations/s, it adds this ÷ R ms to each"})
	}
}

// procCPU is the user and system CPU time a process has used, from /proc/<pid>/stat.
func procCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseProcStatCPU(string(data))
}

// parseProcStatCPU reads utime and stime (fields 14 and 15, proc(5)) of a /proc/<pid>/stat line. The command
// name (field 2) is in parentheses and may hold spaces and ')': the fields are counted after the last ')'.
func parseProcStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("proc stat: no command name")
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state): utime is field 14, f[11]; stime f[12].
	if len(f) < 13 {
		return 0, fmt.Errorf("proc stat: %d fields after the command name", len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("proc stat: %w", err)
		}
		ticks += v
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}
