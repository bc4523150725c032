#!/usr/bin/env python3
"""Sends hostile bodies to a running processor and reports its answers and memory.

  scripts/hostile_requests.py PORT PID sequential [COUNT]   # COUNT bad requests, one after another
  scripts/hostile_requests.py PORT PID bombs                # 100 decompression bombs at once

PID is the processor's process id; its resident memory is read from /proc.
"""
import gzip
import http.client
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


def bombs(port, pid):
    peak = 0
    done = threading.Event()

    def watch():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_kib(pid))
            time.sleep(0.005)

    results = []

    def send(i):
        if i % 2 == 0:
            results.append(post(port, "/v1/logs", LOGS_GZIP, GZIP_BOMB))
        else:
            results.append(post(port, "/v1/prometheus", REMOTE_WRITE, SNAPPY_BOMB))

    watcher = threading.Thread(target=watch)
    watcher.start()
    senders = [threading.Thread(target=send, args=(i,)) for i in range(100)]
    started = time.time()
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    done.set()
    watcher.join()
    time.sleep(1)
    statuses = {}
    for status, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    print(f"bombs=100 statuses={statuses} peak_rss_kib={peak} rss_after_kib={rss_kib(pid)} "
          f"seconds={time.time() - started:.1f}")
    for reason in sorted({text[:100] for _, text in results}):
        print(" ", reason.decode(errors="replace"))


def main():
    port, pid, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    if mode == "sequential":
        sequential(port, pid, int(sys.argv[4]) if len(sys.argv) > 4 else 10000)
    elif mode == "bombs":
        bombs(port, pid)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
