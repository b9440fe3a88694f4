// Uploads a file to filemesh over native gRPC, resumably, printing progress.
//
//	go run ./examples/upload -addr localhost:8080 -plaintext \
//	  -email ada@example.com -password 'correct horse battery' [-register] [-name n] FILE
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"time"

	filemesh "github.com/filemesh/filemesh/clients/go"
)

func main() {
	addr := flag.String("addr", "localhost:8080", "gateway address (REST and gRPC share it)")
	plaintext := flag.Bool("plaintext", false, "no TLS (the local gateway)")
	email := flag.String("email", "", "account e-mail")
	password := flag.String("password", "", "account password")
	register := flag.Bool("register", false, "create the account first")
	name := flag.String("name", "", "file name (default: the file's base name)")
	parent := flag.String("parent", "", "folder id (default: your home folder)")
	flag.Parse()
	if flag.NArg() != 1 || *email == "" || *password == "" {
		flag.Usage()
		os.Exit(2)
	}
	path := flag.Arg(0)
	if *name == "" {
		*name = filepath.Base(path)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var opts []filemesh.Option
	if *plaintext {
		opts = append(opts, filemesh.Plaintext())
	}
	c, err := filemesh.Dial(*addr, opts...)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if *register {
		if _, err := c.Register(ctx, *email, *password, *email); err != nil {
			log.Fatalf("register: %v (reason %s)", err, filemesh.Reason(err))
		}
	}
	if _, err := c.Login(ctx, *email, *password); err != nil {
		log.Fatalf("login: %v (reason %s)", err, filemesh.Reason(err))
	}

	f, err := os.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	// The hash is declared up front, so the server refuses the file if a byte differs.
	h := sha256.New()
	size, err := io.Copy(h, f)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		log.Fatal(err)
	}
	file, err := c.Upload(ctx, f, filemesh.UploadOptions{
		ParentID: *parent, Name: *name, Size: size, SHA256: hex.EncodeToString(h.Sum(nil)),
		WriteOptions: filemesh.WriteOptions{
			Progress: func(sent, total int64) { fmt.Fprintf(os.Stderr, "\r%d/%d bytes", sent, total) },
			OnResume: func(at int64, cause error) { fmt.Fprintf(os.Stderr, "\nresuming at %d (%v)\n", at, cause) },
		},
	})
	fmt.Fprintln(os.Stderr)
	if err != nil {
		log.Fatalf("upload: %v (reason %s)", err, filemesh.Reason(err))
	}
	fmt.Printf("uploaded %s: id %s, %d bytes, sha256 %s, %s\n",
		file.GetName(), file.GetId(), file.GetSizeBytes(), file.GetSha256(), file.GetState())
}
