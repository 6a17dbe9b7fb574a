package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// costMeter measures what the server and, with --redis, Redis use during
// the load.
type costMeter struct {
	server                  *serverSampler
	rdb                     *redisProbe // nil without --redis
	redisBefore, redisAfter redisInfo
}

func startCostMeter(ctx context.Context, cfg benchConfig, rdb *redisProbe) *costMeter {
	m := &costMeter{server: startServerSampler(ctx, cfg.server, cfg.token), rdb: rdb}
	if rdb != nil {
		m.redisBefore = rdb.info(ctx)
	}
	return m
}

func (m *costMeter) finish(ctx context.Context) {
	m.server.finish(ctx)
	if m.rdb != nil {
		m.redisAfter = m.rdb.info(ctx)
	}
}

// fill puts the costs into res, per report accepted.
func (m *costMeter) fill(res *benchResult) {
	res.Server = m.server.usage(res.Reports.Accepted)
	res.Machine.ServerGoVersion = m.server.goVersion()
	if m.rdb != nil {
		res.Redis = redisCost(m.redisBefore, m.redisAfter, res.Reports.Accepted)
	}
}

// serverSample is one scrape of truceline's /metrics.
type serverSample struct {
	at         time.Time
	cpuSeconds float64 // process_cpu_seconds_total
	rss        float64 // process_resident_memory_bytes
	heapInuse  float64 // go_memstats_heap_inuse_bytes
	goroutines float64 // go_goroutines
	goVersion  string  // go_info's version label
}

// sampleServer scrapes the server's /metrics once.
func sampleServer(ctx context.Context, server, token string) (serverSample, error) {
	s := serverSample{at: time.Now()}
	fields := map[string]*float64{"process_cpu_seconds_total": &s.cpuSeconds, "process_resident_memory_bytes": &s.rss,
		"go_memstats_heap_inuse_bytes": &s.heapInuse, "go_goroutines": &s.goroutines}
	err := scrapeMetrics(ctx, server, token, func(line string) {
		if v, ok := strings.CutPrefix(line, `go_info{version="`); ok {
			s.goVersion, _, _ = strings.Cut(v, `"`)
			return
		}
		name, value, ok := strings.Cut(line, " ")
		if p := fields[name]; ok && p != nil {
			*p, _ = strconv.ParseFloat(value, 64)
		}
	})
	return s, err
}

// serverSampler reads the server's CPU and memory before the load, every
// second during it (keeping the largest resident size) and after it.
type serverSampler struct {
	server, token string
	stop          chan struct{}
	done          chan struct{}

	mu            sync.Mutex // guards what follows
	before, after serverSample
	maxRSS        float64
	err           error // the first failed scrape
}

func startServerSampler(ctx context.Context, server, token string) *serverSampler {
	s := &serverSampler{server: server, token: token, stop: make(chan struct{}), done: make(chan struct{})}
	s.before = s.sample(ctx)
	go s.loop(ctx)
	return s
}

func (s *serverSampler) loop(ctx context.Context) {
	defer close(s.done)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
			s.sample(ctx)
		}
	}
}

func (s *serverSampler) sample(ctx context.Context) serverSample {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	m, err := sampleServer(ctx, s.server, s.token)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if s.err == nil {
			s.err = err
		}
		return serverSample{}
	}
	s.maxRSS = max(s.maxRSS, m.rss)
	return m
}

// finish stops the sampling with a last sample.
func (s *serverSampler) finish(ctx context.Context) {
	close(s.stop)
	<-s.done
	after := s.sample(ctx)
	s.mu.Lock()
	s.after = after
	s.mu.Unlock()
}

// usage is what the server used between the first and the last sample.
func (s *serverSampler) usage(accepted int) serverUsage {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.before.at.IsZero() || s.after.at.IsZero() { // a failed scrape is zero
		msg := "no sample"
		if s.err != nil {
			msg = s.err.Error()
		}
		return serverUsage{Error: msg}
	}
	u := serverUsage{
		Wall:       s.after.at.Sub(s.before.at),
		CPUSeconds: s.after.cpuSeconds - s.before.cpuSeconds,
		StartRSS:   int64(s.before.rss), MaxRSS: int64(s.maxRSS), EndRSS: int64(s.after.rss),
		EndHeapInuse: int64(s.after.heapInuse), EndGoroutines: int(s.after.goroutines),
	}
	u.CoresBusy = u.CPUSeconds / u.Wall.Seconds()
	if accepted > 0 {
		u.CPUPerReport = u.CPUSeconds / float64(accepted) * 1e6
	}
	return u
}

func (s *serverSampler) goVersion() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.before.goVersion
}

// redisProbe reads truceline's Redis: INFO for its cost, and the ceilings.
type redisProbe struct {
	rdb *redis.Client
}

func newRedisProbe(url string) (*redisProbe, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, usageError{fmt.Errorf("--redis: %w", err)}
	}
	opts.ClientName = "trucectl-bench"
	opts.PoolSize = redisCeilingWorkers
	return &redisProbe{rdb: redis.NewClient(opts)}, nil
}

func (p *redisProbe) close() { _ = p.rdb.Close() }

// redisInfo is what INFO says of Redis's cost.
type redisInfo struct {
	cpuSeconds float64 // used_cpu_sys + used_cpu_user
	usedMemory int64
	err        error
}

func (p *redisProbe) info(ctx context.Context) redisInfo {
	text, err := p.rdb.Info(ctx, "cpu", "memory").Result()
	if err != nil {
		return redisInfo{err: fmt.Errorf("redis INFO: %w", err)}
	}
	var ri redisInfo
	for line := range strings.Lines(text) {
		name, value, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		switch name {
		case "used_cpu_sys", "used_cpu_user":
			v, _ := strconv.ParseFloat(value, 64)
			ri.cpuSeconds += v
		case "used_memory":
			ri.usedMemory, _ = strconv.ParseInt(value, 10, 64)
		}
	}
	return ri
}

func redisCost(before, after redisInfo, accepted int) *redisUsage {
	if err := errors.Join(before.err, after.err); err != nil {
		return &redisUsage{Error: err.Error()}
	}
	u := &redisUsage{CPUSeconds: after.cpuSeconds - before.cpuSeconds, UsedMemoryBefore: before.usedMemory, UsedMemoryAfter: after.usedMemory}
	if accepted > 0 {
		u.CPUPerReport = u.CPUSeconds / float64(accepted) * 1e6
	}
	return u
}

// machine describes where the bench ran.
func machine() machineInfo {
	return machineInfo{NumCPU: runtime.NumCPU(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, CPUModel: cpuModel(), GoVersion: runtime.Version()}
}

// cpuModel is the first "model name" of /proc/cpuinfo, or "".
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name, value, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(name) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return ""
}
