// Load generator of `pnpm bench` with KES_BENCH_CLIENT=go: Go's net/http client, the
// client MinIO talks to KES with. scripts/bench.mjs builds it into .cache/bench and runs it
// with GOMAXPROCS=1. Standard library only. Reads the same job JSON as bench-load.mjs from
// argv[1]; prints "measuring" after the warm-up, then one JSON line
// {requests, elapsed, errors, p50, p99, p999} (ms).
//
// Keep-alive connections (one per in-flight request) unless `fresh` (a new connection and
// TLS handshake per request); with `h2` the client offers HTTP/2 by ALPN and Go multiplexes
// the requests over the connections it dialled, as a Go program such as MinIO does.
package main

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"
)

type job struct {
	Port        int                         `json:"port"`
	TLS         *struct{ Cert, Key string } `json:"tls"`
	Headers     map[string]string           `json:"headers"`
	Method      string                      `json:"method"`
	Path        string                      `json:"path"`
	Body        *string                     `json:"body"`
	Connections int                         `json:"connections"`
	Seconds     float64                     `json:"seconds"`
	WarmupMs    float64                     `json:"warmupMs"`
	Fresh       bool                        `json:"fresh"`
	H2          bool                        `json:"h2"`
}

func main() {
	var j job
	if err := json.Unmarshal([]byte(os.Args[1]), &j); err != nil {
		fail(err)
	}
	cfg := &tls.Config{InsecureSkipVerify: true} // the bench's servers use throwaway self-signed certificates
	if j.TLS != nil && j.TLS.Cert != "" {
		pair, err := tls.X509KeyPair([]byte(j.TLS.Cert), []byte(j.TLS.Key))
		if err != nil {
			fail(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	tr := &http.Transport{
		TLSClientConfig:     cfg,
		ForceAttemptHTTP2:   j.H2,
		DisableKeepAlives:   j.Fresh,
		MaxIdleConnsPerHost: j.Connections,
	}
	if !j.H2 {
		// Without this map Go may still negotiate h2 with a server that offers it.
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	client := &http.Client{Transport: tr}
	url := "https://127.0.0.1:" + strconv.Itoa(j.Port) + j.Path
	var body []byte
	if j.Body != nil {
		body = []byte(*j.Body)
	}
	send := func() (int, error) {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequest(j.Method, url, rd)
		if err != nil {
			return 0, err
		}
		for k, v := range j.Headers {
			req.Header.Set(k, v)
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode, nil
	}
	drive := func(until time.Time, record func(status int, d time.Duration)) {
		var wg sync.WaitGroup
		for i := 0; i < j.Connections; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(until) {
					t := time.Now()
					status, err := send()
					if err != nil {
						status = 0
					}
					if record != nil {
						record(status, time.Since(t))
					}
				}
			}()
		}
		wg.Wait()
	}

	drive(time.Now().Add(time.Duration(j.WarmupMs)*time.Millisecond), nil)
	fmt.Println("measuring")
	var mu sync.Mutex
	lat := make([]float64, 0, 1<<16)
	errors := 0
	start := time.Now()
	drive(start.Add(time.Duration(j.Seconds*float64(time.Second))), func(status int, d time.Duration) {
		mu.Lock()
		lat = append(lat, float64(d.Nanoseconds())/1e6)
		if status != 200 {
			errors++
		}
		mu.Unlock()
	})
	elapsed := time.Since(start).Seconds()
	sort.Float64s(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		i := int(p / 100 * float64(len(lat)))
		if i >= len(lat) {
			i = len(lat) - 1
		}
		return lat[i]
	}
	out, _ := json.Marshal(map[string]any{
		"requests": len(lat), "elapsed": elapsed, "errors": errors,
		"p50": pct(50), "p99": pct(99), "p999": pct(99.9),
	})
	fmt.Println(string(out))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench-load-go:", err)
	os.Exit(1)
}
