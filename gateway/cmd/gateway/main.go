// Command gateway is filemesh's local gateway: the REST surface of the contracts
// (google.api.http transcoding through Vanguard) and a native gRPC proxy, on one port.
// Configuration comes from the environment only; see gateway/README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/filemesh/filemesh/gateway/internal/config"
	"github.com/filemesh/filemesh/gateway/internal/schema"
	"github.com/filemesh/filemesh/gateway/internal/server"
	"github.com/filemesh/filemesh/gateway/internal/upstream"
)

const shutdownTimeout = 20 * time.Second

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("service", "gateway")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// GATEWAY_CPU_PROFILE: a Go CPU profile of the whole run, written when the gateway stops
	// (the benches set it with BENCH_CPU_PROF=1; read it with `go tool pprof`).
	if path := os.Getenv("GATEWAY_CPU_PROFILE"); path != "" {
		stopProfile, err := startCPUProfile(path)
		if err != nil {
			log.Error("no CPU profile", "err", err.Error())
		} else {
			defer stopProfile()
		}
	}
	if err := run(ctx, log, os.Getenv, nil); err != nil {
		log.Error("gateway stopped", "err", err.Error())
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// run serves until ctx ends. Everything the process logs goes through log (the http.Server's
// own messages too), and nothing it logs holds a request's path, query or headers: share-link
// tokens live in paths and their passwords in queries or headers (TestLogsHoldNoSecrets).
// listening, when set, is told the bound address.
func run(ctx context.Context, log *slog.Logger, getenv func(string) string, listening func(addr string)) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	s, err := schema.Load(cfg.DescriptorPath)
	if err != nil {
		return err
	}
	pool, err := upstream.New(cfg.Upstreams)
	if err != nil {
		return err
	}
	defer pool.Close()
	srv, err := server.New(cfg, s, pool)
	if err != nil {
		return err
	}
	defer srv.Close()
	if err := srv.DocsErr(); err != nil {
		log.Warn("no OpenAPI document: /openapi.json and /docs answer 503", "err", err.Error())
	}

	ln, err := net.Listen("tcp", cfg.Addr())
	if err != nil {
		return err
	}
	httpSrv := srv.HTTPServer()
	httpSrv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	errc := make(chan error, 1)
	go func() { errc <- httpSrv.Serve(ln) }()
	log.Info("gateway listening", "addr", ln.Addr().String(), "descriptor", cfg.DescriptorPath,
		"upstreams", cfg.Upstreams, "url", "http://"+ln.Addr().String())
	if listening != nil {
		listening(ln.Addr().String())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("gateway shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := httpSrv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
