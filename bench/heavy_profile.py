#!/usr/bin/env python3
"""Request latency while one profile grows: posts REQUESTS batches of 100 events, every one
for the same user and half of them events the default audiences look at, to `idgraph serve`
on a fresh store, and prints the median latency of the first and last 50 requests.

A profile's audience standings are re-evaluated whenever it receives such an event, so
this shows whether that cost grows with the profile's history.

    bench/heavy_profile.py [BINARY] [REQUESTS]   (default target/release/idgraph, 300)
"""
import base64
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port, server):
    for _ in range(100):
        if server.poll() is not None:
            sys.exit("heavy_profile: the server exited at start")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                return
        except OSError:
            time.sleep(0.05)
    sys.exit("heavy_profile: the server did not start listening")


def batch_body(request):
    events = []
    for i in range(100):
        n = request * 100 + i
        events.append({
            "type": "track",
            "messageId": f"heavy-{n}",
            "userId": "heavy-user",
            "event": "Order Completed" if i % 2 == 0 else "Product Added",
            "properties": {"sku": f"sku-{n}", "price": 10.5, "note": "x" * 300},
            "timestamp": "2024-05-01T12:00:00.000Z",
        })
    return json.dumps({"batch": events}).encode()


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/idgraph"
    requests = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    with tempfile.TemporaryDirectory() as work:
        config = os.path.join(work, "config.toml")
        with open(config, "w") as f:
            f.write('[sources.load]\nwrite_key = "HEAVY"\nspace = "load"\nchannel = "web"\n')
        port = free_port()
        server = subprocess.Popen(
            [binary, "--store", os.path.join(work, "store"), "--config", config,
             "serve", "--listen", f"127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(port, server)
            auth = "Basic " + base64.b64encode(b"HEAVY:").decode()
            latencies = []
            for request in range(requests):
                post = urllib.request.Request(
                    f"http://127.0.0.1:{port}/v1/batch", data=batch_body(request),
                    headers={"Authorization": auth, "Content-Type": "application/json"})
                start = time.perf_counter()
                with urllib.request.urlopen(post) as answer:
                    answer.read()
                latencies.append((time.perf_counter() - start) * 1000)
        finally:
            server.terminate()
            server.wait()
    first = statistics.median(latencies[:50])
    last = statistics.median(latencies[-50:])
    print(f"heavy_profile: {requests} requests of 100 events for one user "
          f"({requests * 100} events): median latency first 50 {first:.1f} ms, "
          f"last 50 {last:.1f} ms, max {max(latencies):.1f} ms, total {sum(latencies) / 1000:.1f} s")


if __name__ == "__main__":
    main()
