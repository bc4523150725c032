#!/usr/bin/python3
"""The web console in a real browser: headless Chromium, driven through Selenium, over every page
of a processor started on SQLite with the demo cluster, its demo training run and a live feed.
Each figure a page shows is compared with the processor's own API; a page with a JavaScript
console error fails. Screenshots go to --screenshots.

Exit 0: passed; 77: skipped, Chromium cannot start here; anything else: failed."""

import argparse
import base64
import json
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

SKIP = 77
DEADLINE_SECONDS = 60
EXPLAIN_SERIES = 'gpu_utilization{gpu_id="3",primus_lens_node_name="demo-node-0"} 97.5'
PRIMUS_LINE = ("[20251101 08:00:00][rank-7/8][INFO ] [--------trainer.py:2100] :  iteration"
               "       50/    1000 | consumed samples:         3200 | elapsed time per iteration "
               "(ms): 812.4 | mem usages: 0.6277 | throughput per GPU (TFLOP/s/GPU): 301.2 | "
               "learning rate: 2.000000E-05 | global batch size:    64 | lm loss: 3.118204E+00 |")
FINETUNE_UID = "d0000000-0000-4000-b000-000000000003"
PRETRAIN_POD_UID = "d0000000-0000-4000-a000-000000000001"


class Failure(Exception):
    pass


def wait_for(what, condition, limit=DEADLINE_SECONDS):
    """condition() until it returns something truthy; fails naming `what` after `limit` s."""
    deadline = time.monotonic() + limit
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as error:  # a page still loading, a stale element
            last_error = error
        time.sleep(0.1)
    raise Failure(f"timed out waiting for {what}" + (f" (last error: {last_error})" if last_error else ""))


# --- the processor -------------------------------------------------------------------------


class Processor:
    def __init__(self, binary, directory, extra):
        self.output = []
        arguments = [binary, "--httpPort=0", "--http.listenAddress=127.0.0.1",
                     f"--db.path={directory}/lens.db", f"--queue.dir={directory}/queue"] + extra
        self.process = subprocess.Popen(arguments, stderr=subprocess.PIPE, text=True)
        self.port = None
        found = threading.Event()

        def read():
            for line in self.process.stderr:
                self.output.append(line)
                match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
                if match and not found.is_set():
                    self.port = int(match.group(1))
                    found.set()
        threading.Thread(target=read, daemon=True).start()
        if not found.wait(DEADLINE_SECONDS):
            self.stop()
            raise Failure("the processor did not start:\n" + "".join(self.output))
        self.base = f"http://127.0.0.1:{self.port}/"

    def request(self, path, body=None, headers=None, method=None):
        request = urllib.request.Request(self.base + path, data=body, headers=headers or {},
                                         method=method)
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read()

    def api(self, path, body=None, headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers = {"Content-Type": "application/json", **(headers or {})}
        _, answer = self.request(path, body, headers)
        return json.loads(answer)["data"]

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()


def varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field(number, payload):
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def write_request(series):
    """A remote-write 1.0 WriteRequest: [(labels dict, value, timestamp ms)]."""
    body = b""
    for labels, value, timestamp in series:
        encoded = b"".join(field(1, field(1, name.encode()) + field(2, text.encode()))
                           for name, text in sorted(labels.items()))
        sample = b"\x09" + struct.pack("<d", value) + b"\x10" + varint(timestamp)
        body += field(1, encoded + field(2, sample))
    return body


def feed(processor, stop):
    """Metrics of the demo pods (forwarded), of an unknown node (dropped) and training lines."""
    iteration = 0
    while not stop.is_set():
        now_ms = int(time.time() * 1000)
        series = [({"__name__": "gpu_utilization", "gpu_id": str(gpu),
                    "primus_lens_node_name": "demo-node-0"}, 90.0 + gpu, now_ms)
                  for gpu in range(8)]
        series.append(({"__name__": "gpu_utilization", "gpu_id": "0",
                        "primus_lens_node_name": "node-unknown"}, 1.0, now_ms))
        try:
            processor.request("api/v1/write", write_request(series),
                              {"Content-Type": "application/x-protobuf"})
            iteration += 1
            record = {"date": time.time(), "log": PRIMUS_LINE.replace("      50/", f"{iteration:8d}/"),
                      "kubernetes": {"pod_name": "demo-pretrain-worker-0", "pod_id": PRETRAIN_POD_UID,
                                     "namespace_name": "demo", "host": "demo-node-0"}}
            processor.request("logs", json.dumps([record, {"log": "no date"}]).encode(),
                              {"Content-Type": "application/json"})
        except (urllib.error.URLError, ConnectionError):
            pass  # the processor is stopping
        stop.wait(0.2)


# --- the browser ---------------------------------------------------------------------------


def start_browser(profile):
    try:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        raise Failure("python3-selenium is not installed (scripts/install-deps.sh)")
    for program, package in (("/usr/bin/chromium", "chromium"),
                             ("/usr/bin/chromedriver", "chromium-driver")):
        if not os.path.exists(program):
            raise Failure(f"{program} is missing: install {package} (scripts/install-deps.sh)")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1440,1800", f"--user-data-dir={profile}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    except WebDriverException as error:
        print(f"console-browser-test: skipped: Chromium cannot start: {error.msg}")
        sys.exit(SKIP)


class Page:
    def __init__(self, driver, processor, screenshots):
        from selenium.webdriver.common.by import By
        self.By = By
        self.driver = driver
        self.processor = processor
        self.screenshots = screenshots

    def open(self, fragment, loads=True):
        """Opens a page; one that `loads` data has it once main[data-loaded] is set."""
        self.driver.get(f"{self.processor.base}ui/#/{fragment}")
        page = fragment.split("/")[0]
        wait_for(f"#/{fragment} to load", lambda: self.driver.find_element(
            self.By.CSS_SELECTOR, f'main[data-page="{page}"]' + ("[data-loaded]" if loads else "")))

    def find(self, selector):
        return self.driver.find_element(self.By.CSS_SELECTOR, selector)

    def find_all(self, selector):
        return self.driver.find_elements(self.By.CSS_SELECTOR, selector)

    def value(self, selector):
        return self.find(selector).get_attribute("data-value")

    def check_console(self, name, expected=None):
        """Fails on any console error but those `expected` (a regex) names."""
        errors = [entry for entry in self.driver.get_log("browser") if entry["level"] == "SEVERE"
                  and not (expected and re.search(expected, entry["message"]))]
        if errors:
            raise Failure(f"{name}: JavaScript console errors: {errors}")

    def screenshot(self, name):
        self.check_console(name)
        self.driver.save_screenshot(os.path.join(self.screenshots, f"{name}.png"))


def close(a, b, tolerance=1e-9):
    return abs(float(a) - float(b)) <= tolerance * max(1.0, abs(float(b)))


# --- the checks ----------------------------------------------------------------------------


def check_overview(page, processor):
    page.open("overview")
    # The feed has run a while: forwarded samples, drops of the unknown node, a growing queue.
    def settled():
        page.open("overview")
        received = page.value('[data-flow="metrics/received/samples"]')
        queue = page.find_all("tr[data-endpoint] [data-field=bytes]")
        return received and float(received) > 0 and queue and float(queue[0].get_attribute("data-value")) > 0
    wait_for("the overview to show the feed and a queue", settled)
    api = processor.api("ui/api/overview")
    # The cache refreshes every 2 s and the page every 5 s: its generation may be older, never
    # newer; the sizes of the demo cluster stay.
    for name in ("nodes", "devices", "pods", "workloads"):
        shown = page.value(f'#cache [data-field="{name}"]')
        if str(shown) != str(api["cache"][name]):
            raise Failure(f"overview: cache {name} shows {shown}, the API says {api['cache'][name]}")
    shown_generation = int(page.value('#cache [data-field="generation"]'))
    if not 0 < shown_generation <= api["cache"]["generation"]:
        raise Failure(f"overview: generation {shown_generation}, the API's {api['cache']['generation']}")
    if page.find('[data-field="ready"]').text != "ready" or not api["ready"]:
        raise Failure("overview: the processor is not shown ready")
    flows = {f"{flow['group']}/{flow['kind']}/{flow['name']}" for flow in api["rates"]["flows"]}
    shown = {cell.get_attribute("data-flow") for cell in page.find_all("[data-flow]")}
    if not {"metrics/received/samples", "metrics/dropped/no_pod", "logs/received/records"} <= shown:
        raise Failure(f"overview: flows shown {sorted(shown)}")
    if not shown <= flows:  # a flow can appear (a new drop reason) between the two reads
        raise Failure(f"overview: flows {sorted(shown)} are not the API's {sorted(flows)}")
    endpoints = {row.get_attribute("data-endpoint") for row in page.find_all("tr[data-endpoint]")}
    if endpoints != {queue["endpoint"] for queue in api["queues"]}:
        raise Failure(f"overview: queues of {endpoints}, the API has {api['queues']}")
    # The dead endpoint's oldest batch has waited since the feed began and is never sent: the
    # API, read after the page, sees it at least as old as the page did.
    shown_age = float(page.value("tr[data-endpoint] [data-field=oldest_age_seconds]"))
    api_age = api["queues"][0]["oldest_age_seconds"]
    if not 0 <= shown_age <= api_age:
        raise Failure(f"overview: oldest batch waited {shown_age} s, the API says {api_age} s")
    charts = page.driver.execute_script("return window.tpConsole.charts().map(c => c.numRows())")
    if not charts or min(charts) == 0:
        raise Failure(f"overview: the rate charts hold {charts} rows")
    page.screenshot("overview")


def check_caches(page, processor):
    for by, query, name in (("pod", "demo-pretrain", "caches-pod"), ("node", "demo-node-0", "caches-node"),
                            ("workload", "demo", "caches-workload"), ("pod_uid", PRETRAIN_POD_UID, None)):
        page.open(f"caches/{by}/{query}")
        api = processor.api(f"ui/api/cache/search?by={by}&q={query}")
        wait_for(f"caches {by}={query} results", lambda: len(page.find_all("tr[data-result]")) == len(api["results"]))
        keys = [row.get_attribute("data-result") for row in page.find_all("tr[data-result]")]
        if by == "pod":
            expected = [result["pod"]["name"] for result in api["results"]]
        elif by == "pod_uid":
            expected = [result["pod"]["uid"] for result in api["results"]]
        elif by == "node":
            expected = [result["node"] for result in api["results"]]
        else:
            expected = [result["workload"]["name"] for result in api["results"]]
        if keys != expected or not keys:
            raise Failure(f"caches by {by}: rows {keys}, the API has {expected}")
        if by == "node":
            devices = len(page.find_all("tr[data-device]"))
            if devices != len(api["results"][0]["devices"]) or devices != 10:
                raise Failure(f"caches by node: {devices} devices shown, the API has "
                              f"{len(api['results'][0]['devices'])}")
        if name:
            page.screenshot(name)


def check_explain(page, processor):
    page.open("explain", loads=False)
    api = processor.api("explain", {"series": EXPLAIN_SERIES})
    box = page.find("#explain-input")
    box.clear()
    box.send_keys(EXPLAIN_SERIES)
    page.find("#explain-button").click()
    wait_for("the explanation", lambda: page.find_all('[data-field="rule"]'))
    rule = page.value('[data-field="rule"]') or page.find('[data-field="rule"]').text
    pod = page.value('[data-field="pod_name"]') or page.find('[data-field="pod_name"]').text
    workloads = [cell.get_attribute("data-value") or cell.text for cell in page.find_all('[data-field="workload_name"]')]
    if rule != api["rule"] or pod != api["pod"]["name"] or pod != "demo-pretrain-worker-0":
        raise Failure(f"explain: shows rule {rule} pod {pod}; the API says {api['rule']} {api['pod']}")
    if workloads != [workload["name"] for workload in api["workloads"]]:
        raise Failure(f"explain: workloads {workloads}, the API has {api['workloads']}")
    forwarded = page.value('[data-field="forwarded_count"]')
    if int(forwarded) != len(api["forwarded"]) or int(forwarded) != 1:
        raise Failure(f"explain: {forwarded} forwarded series shown, the API has {len(api['forwarded'])}")
    page.screenshot("explain")


def check_patterns(page, processor):
    page.open("patterns")
    api = processor.api("ui/api/patterns")
    wait_for("the pattern rows", lambda: len(page.find_all("tr[data-pattern]")) == len(api["patterns"]))
    page.find("#test-line").clear()
    page.find("#test-line").send_keys(PRIMUS_LINE)
    page.find("#test-button").click()
    answer = processor.api("debug/test-log-match", {"log": PRIMUS_LINE})
    winner = next(match for match in answer["matches"] if match.get("wins"))
    wait_for("the test result", lambda: page.find_all('[data-field="winner"]'))
    shown = page.value('[data-field="winner"]') or page.find('[data-field="winner"]').text
    if shown != winner["name"] or shown != "primus-legacy":
        raise Failure(f"patterns: the test box's winner is {shown}, the API's {winner['name']}")
    page.screenshot("patterns")


def check_training(page, processor):
    page.open("training")
    api = processor.api("training/runs?limit=50")
    run = next(run for run in api["runs"] if run["workload_uid"] == FINETUNE_UID)
    row = f'tr[data-run="{FINETUNE_UID}/1"]'
    wait_for("the demo run's row and its goodput", lambda: page.find(f"{row} [data-field=goodput][data-loaded]"))
    goodput = processor.api(f"training/{FINETUNE_UID}/goodput")
    if page.value(f"{row} [data-field=state]") != run["state"] or run["state"] != "ended":
        raise Failure(f"training: state {page.value(f'{row} [data-field=state]')}, the API's {run['state']}")
    if not close(page.value(f"{row} [data-field=goodput]"), goodput["ratio"]):
        raise Failure(f"training: goodput {page.value(f'{row} [data-field=goodput]')}, the API's {goodput['ratio']}")
    if int(page.value(f"{row} [data-field=last_iteration]")) != run["last_iteration"]:
        raise Failure("training: the last iteration differs from the API's")
    page.screenshot("training")

    page.open(f"training/{FINETUNE_UID}/1")
    chart = processor.api(f"ui/api/training/{FINETUNE_UID}/chart?run=1&points=800")
    rows = wait_for("the run's charts", lambda: page.driver.execute_script(
        "return window.tpConsole && window.tpConsole.charts().map(c => c.numRows())"))
    if len(rows) != 6 or min(rows) == 0 or max(rows) != len(chart["iteration"]):
        raise Failure(f"run page: charts hold {rows} points, the API {len(chart['iteration'])}")
    markers = page.driver.execute_script("return window.tpConsole.markers()")
    if markers != len(chart["markers"]) or markers < 5:
        raise Failure(f"run page: {markers} markers shown, the API has {len(chart['markers'])}")
    # Drawn: every chart's canvas holds painted pixels.
    painted = page.driver.execute_script("""
        return [...document.querySelectorAll('[data-chart] canvas')].map(canvas => {
          const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
          let painted = 0;
          for (let i = 3; i < data.length; i += 4) if (data[i] > 0) ++painted;
          return painted;
        });""")
    if not painted or sorted(painted)[len(painted) // 2] == 0:
        raise Failure(f"run page: canvases painted {painted}")
    page.screenshot("training-run")


def check_bearer(binary, directory, driver, screenshots):
    """With bearer tokens only, the page asks for the token, refuses a wrong one, takes the right one."""
    os.makedirs(f"{directory}/bearer", exist_ok=True)
    processor = Processor(binary, f"{directory}/bearer", ["--auth.bearerTokens=t0k3n"])
    try:
        page = Page(driver, processor, screenshots)
        driver.get(f"{processor.base}ui/#/overview")
        wait_for("the token dialog", lambda: driver.execute_script(
            "return document.getElementById('token-dialog').open"))
        page.find("#token-input").send_keys("wrong")
        page.find("#token-form button").click()
        wait_for("the refusal", lambda: "refused" in page.find("#token-error").text)
        page.find("#token-input").clear()
        page.find("#token-input").send_keys("t0k3n")
        page.find("#token-form button").click()
        wait_for("the overview behind the token", lambda: page.find_all("main[data-loaded]"))
        # The requests made before the token was given, and with the wrong one, are refused.
        page.check_console("bearer", expected=r"/ui/api/overview\S* - Failed to load resource: "
                                              r"the server responded with a status of 401")
    except BaseException:
        processor.stop()
        raise
    if processor.stop() != 0:
        raise Failure("the bearer-only processor did not exit cleanly:\n" + "".join(processor.output))


def run(binary, directory, driver, screenshots):
    seeded = subprocess.run([binary, "seed-demo", f"--db.path={directory}/lens.db"],
                            capture_output=True, text=True)
    if seeded.returncode != 0:
        raise Failure("seed-demo failed:\n" + seeded.stderr)
    with socket.socket() as dead:
        dead.bind(("127.0.0.1", 0))  # bound, never listening: the endpoint's batches wait on disk
        processor = Processor(binary, directory, [
            f"--metricsWrite.endpoints=http://127.0.0.1:{dead.getsockname()[1]}/api/v1/write",
            "--cache.refreshInterval=2s", "--training.stall.checkInterval=1s"])
        stop = threading.Event()
        feeder = threading.Thread(target=feed, args=(processor, stop), daemon=True)
        feeder.start()
        try:
            page = Page(driver, processor, screenshots)
            # The health detector has judged the demo run (a recovery is found the check after its
            # drop): the events it holds are all in the database before any page shows them.
            expected = {"NanIterations", "ThroughputDrop", "ThroughputRecovered", "LossSpike"}
            wait_for("the demo run's health events", lambda: {event["type"] for event in processor.api(
                f"training/{FINETUNE_UID}/events")["events"]} == expected)
            for check in (check_overview, check_caches, check_explain, check_patterns, check_training):
                check(page, processor)
                print(f"console-browser-test: {check.__name__[6:]}: passed")
            check_bearer(binary, directory, driver, screenshots)
            print("console-browser-test: bearer token: passed")
        except Failure:
            print("".join(processor.output[-80:]), file=sys.stderr)
            raise
        finally:
            stop.set()
            feeder.join()
            code = processor.stop()
    if code != 0:
        raise Failure(f"the processor exited with {code}:\n" + "".join(processor.output))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--screenshots", required=True)
    arguments = parser.parse_args()
    screenshots = os.environ.get("TP_CONSOLE_SCREENSHOTS") or arguments.screenshots
    os.makedirs(screenshots, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tp-console-") as directory:
        driver = start_browser(f"{directory}/profile")
        try:
            run(arguments.binary, directory, driver, screenshots)
        finally:
            driver.quit()
    print(f"console-browser-test: every page passed; screenshots in {screenshots}")


if __name__ == "__main__":
    try:
        main()
    except Failure as failure:
        print(f"console-browser-test: FAILED: {failure}", file=sys.stderr)
        sys.exit(1)
