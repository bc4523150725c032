#!/usr/bin/env python3
"""Sends hostile bodies to a running processor and reports its answers and memory.

  scripts/hostile_requests.py PORT PID sequential [COUNT]   # COUNT bad requests, one after another
  scripts/hostile_requests.py PORT PID bombs                # 100 decompression bombs at once
  scripts/hostile_requests.py PORT PID amplify              # 20 remote writes 2.0 whose symbols amplify
  scripts/hostile_requests.py PORT PID logs                 # hostile Fluent Bit batches, one kind at a time

PID is the processor's process id; its resident memory is read from /proc.
"""
import gzip
import http.client
import json
import random
import struct
import sys
import threading
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def varint(number):
    out = b""
    while number >= 0x80:
        out += bytes([number & 0x7F | 0x80])
        number >>= 7
    return out + bytes([number])


GZIP_BOMB = gzip.compress(b" " * (100 << 20))  # 100 MiB of spaces in about 100 KiB
SNAPPY_BOMB = varint((4 << 30) - 1) + b"\x00" * 64  # a preamble declaring 4 GiB
REMOTE_WRITE = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf"}
LOGS = {"Content-Type": "application/json"}
LOGS_GZIP = {"Content-Type": "application/json", "Content-Encoding": "gzip"}

BAD_BODIES = [
    ("/v1/prometheus", REMOTE_WRITE, SNAPPY_BOMB),
    ("/v1/prometheus", REMOTE_WRITE, b"\xff" * 100),
    ("/v1/prometheus", {"Content-Type": "application/x-protobuf"}, b"\x0a\x05\x0a\x03\x0a\x00\x12" * 50),
    ("/v1/prometheus", {"Content-Encoding": "br"}, b"x"),
    ("/v1/logs", LOGS, b"[" * 10000 + b"]" * 10000),
    ("/v1/logs", LOGS, b'[{"date": 1, "log": "\xff\xfe"}]'),
    ("/v1/logs", LOGS_GZIP, GZIP_BOMB),
    ("/v1/logs", LOGS, b'{"not": "an array"}'),
]


def post(port, path, headers, body):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("POST", path, body=body, headers=headers)
    response = connection.getresponse()
    text = response.read()
    connection.close()
    return response.status, text


def sequential(port, pid, count):
    def run(number):
        statuses = {}
        for i in range(number):
            status, _ = post(port, *BAD_BODIES[i % len(BAD_BODIES)])
            statuses[status] = statuses.get(status, 0) + 1
        return statuses

    run(200)  # warm-up: every buffer reaches its working size
    before = rss_kib(pid)
    started = time.time()
    statuses = run(count)
    after = rss_kib(pid)
    print(f"requests={count} statuses={statuses} rss_before_kib={before} rss_after_kib={after} "
          f"growth_kib={after - before} seconds={time.time() - started:.1f}")


def peak_while(pid, work):
    """Runs work() while sampling the resident memory; returns (work's result, peak KiB)."""
    peak = 0
    done = threading.Event()

    def watch():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_kib(pid))
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = work()
    finally:
        done.set()
        watcher.join()
    return result, peak


def concurrently(count, send):
    results = [None] * count

    def run(i):
        results[i] = send(i)

    senders = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    return results


def tally(results):
    statuses = {}
    for status, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    return statuses


def bombs(port, pid):
    def send(i):
        if i % 2 == 0:
            return post(port, "/v1/logs", LOGS_GZIP, GZIP_BOMB)
        return post(port, "/v1/prometheus", REMOTE_WRITE, SNAPPY_BOMB)

    started = time.time()
    results, peak = peak_while(pid, lambda: concurrently(100, send))
    time.sleep(1)
    print(f"bombs=100 statuses={tally(results)} peak_rss_kib={peak} rss_after_kib={rss_kib(pid)} "
          f"seconds={time.time() - started:.1f}")
    for reason in sorted({text[:100] for _, text in results}):
        print(" ", reason.decode(errors="replace"))


def field(number, payload):
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def amplifying_v2_body(series=5, labels=250, symbol_bytes=60 << 10):
    """One symbol of symbol_bytes is the value of `labels` labels of each series."""
    symbols = [b"", b"__name__", b"gpu_utilization", b"gpu_id", b"0", b"primus_lens_node_name",
               b"demo-node-0", bytes(random.choice(b"abcdefghij") for _ in range(symbol_bytes))]
    big = len(symbols) - 1
    symbols += [b"l%d" % i for i in range(labels)]
    refs = [1, 2, 3, 4, 5, 6]
    for i in range(labels):
        refs += [big + 1 + i, big]
    packed = b"".join(varint(ref) for ref in refs)
    sample = b"\x09" + struct.pack("<d", 1.0) + b"\x10" + varint(int(time.time() * 1000))
    body = b"".join(field(4, symbol) for symbol in symbols)
    return body + field(5, field(1, packed) + field(2, sample)) * series


def amplify(port, pid):
    body = amplifying_v2_body()
    headers = {"Content-Type": "application/x-protobuf;proto=io.prometheus.write.v2.Request"}
    idle = rss_kib(pid)
    results, peak = peak_while(
        pid, lambda: concurrently(20, lambda i: post(port, "/v1/prometheus", headers, body)))
    print(f"amplify=20 body_bytes={len(body)} statuses={tally(results)} idle_rss_kib={idle} "
          f"peak_rss_kib={peak} peak_above_idle_kib={peak - idle}")
    for reason in sorted({text[:160] for _, text in results}):
        print(" ", reason.decode(errors="replace"))


def log_record(host, log, date=None):
    return {"date": date if date is not None else time.time(), "log": log,
            "kubernetes": {"pod_name": "demo-pretrain-worker-0", "namespace_name": "demo",
                           "pod_id": "demo-pod-worker-0", "host": host}}


def metrics_bytes(port):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", "/metrics")
    size = len(connection.getresponse().read())
    connection.close()
    return size


def logs(port, pid):
    iteration = ("iteration {} / 1000 | consumed samples: 64 | elapsed time per iteration (ms): "
                 "100.0 | lm loss: 1.0E+00 |")
    cases = [
        ("1 000 distinct hosts of 1 MB, 10 per batch", LOGS,
         lambda: [json.dumps([log_record(("h%04d" % (b * 10 + i)) + "x" * 1_000_000, "x")
                              for i in range(10)]).encode() for b in range(100)]),
        ("300 000 records, distinct hosts", LOGS,
         lambda: json.dumps([log_record("node-%d" % i, "x") for i in range(300_000)]).encode()),
        ("iteration of 70 digits", LOGS,
         lambda: json.dumps([log_record("n", iteration.format("9" * 70))]).encode()),
        ("iteration beyond 2^31", LOGS,
         lambda: json.dumps([log_record("n", iteration.format(2**31 + 5))]).encode()),
        ("date in year 10000", LOGS,
         lambda: json.dumps([log_record("n", iteration.format(7), 253402300800)]).encode()),
        ("JSON array as form data", {"Content-Type": "application/x-www-form-urlencoded"},
         lambda: json.dumps([log_record("n", "x")]).encode()),
        ("truncated batch", LOGS, lambda: json.dumps([log_record("n", "x")] * 3).encode()[:-20]),
    ]
    for name, headers, make in cases:
        bodies = make()
        bodies = bodies if isinstance(bodies, list) else [bodies]
        before = rss_kib(pid)
        started = time.time()
        results, peak = peak_while(
            pid, lambda: [post(port, "/v1/logs", headers, body) for body in bodies])
        print(f"{name}: body_bytes={sum(map(len, bodies))} statuses={tally(results)} "
              f"seconds={time.time() - started:.2f} rss_before_kib={before} peak_rss_kib={peak} "
              f"metrics_bytes={metrics_bytes(port)}")
        print("  ", results[-1][1][:200].decode(errors="replace"))


def main():
    port, pid, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    if mode == "sequential":
        sequential(port, pid, int(sys.argv[4]) if len(sys.argv) > 4 else 10000)
    elif mode == "bombs":
        bombs(port, pid)
    elif mode == "amplify":
        amplify(port, pid)
    elif mode == "logs":
        logs(port, pid)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
