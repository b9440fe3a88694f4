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
	if err := run(log); err != nil {
		log.Error("gateway stopped", "err", err.Error())
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	cfg, err := config.Load(os.Getenv)
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

	ln, err := net.Listen("tcp", cfg.Addr())
	if err != nil {
		return err
	}
	httpSrv := srv.HTTPServer()
	errc := make(chan error, 1)
	go func() { errc <- httpSrv.Serve(ln) }()
	log.Info("gateway listening", "addr", ln.Addr().String(), "descriptor", cfg.DescriptorPath,
		"upstreams", cfg.Upstreams, "url", "http://"+ln.Addr().String())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
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
