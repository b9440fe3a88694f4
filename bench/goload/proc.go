package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// The serving processes' CPU time from /proc/<pid>/stat, as bench/lib/proc-cpu.mjs reads it
// (Linux only; elsewhere the figures are absent).

const tickMs = 10 // USER_HZ is 100 on Linux

// parsePids reads --pids: {"file": 1234, …}, or "postgres" for all of the machine's
// PostgreSQL server processes.
func parsePids(s string) map[string]string {
	out := map[string]string{}
	if s == "" {
		return out
	}
	var raw map[string]any
	must(json.Unmarshal([]byte(s), &raw), "--pids")
	for k, v := range raw {
		switch p := v.(type) {
		case float64:
			out[k] = strconv.FormatInt(int64(p), 10)
		case string:
			out[k] = p
		default:
			must(fmt.Errorf("%s: not a pid: %v", k, v), "--pids")
		}
	}
	return out
}

// statFields are the fields of a /proc/<pid>/stat after the command name, and the name.
func statFields(pid string) (string, []string, bool) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return "", nil, false
	}
	s := string(b)
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open || closing+2 > len(s) {
		return "", nil, false
	}
	return s[open+1 : closing], strings.Fields(s[closing+2:]), true
}

func ticks(f []string, from, to int) int64 {
	var t int64
	for i := from; i <= to && i < len(f); i++ {
		n, _ := strconv.ParseInt(f[i], 10, 64)
		t += n
	}
	return t
}

// postgresCPUMs is every live postgres process's utime + stime plus the ended ones' (cutime +
// cstime of their parents).
func postgresCPUMs() int64 {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var total int64
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		comm, f, ok := statFields(e.Name())
		if !ok || comm != "postgres" {
			continue
		}
		total += ticks(f, 11, 14)
	}
	return total * tickMs
}

// cpuMsOf is utime + stime of pid in ms.
func cpuMsOf(pid string) (int64, bool) {
	if pid == "postgres" {
		return postgresCPUMs(), true
	}
	_, f, ok := statFields(pid)
	if !ok {
		return 0, false
	}
	return ticks(f, 11, 12) * tickMs, true
}

func snapshot(pids map[string]string) map[string]int64 {
	out := map[string]int64{}
	for name, pid := range pids {
		if ms, ok := cpuMsOf(pid); ok {
			out[name] = ms
		}
	}
	return out
}

// since is the CPU ms each process used between two snapshots.
func since(before, after map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, b := range before {
		a, ok := after[k]
		if !ok {
			a = b
		}
		out[k] = a - b
	}
	return out
}
