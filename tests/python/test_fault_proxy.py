"""hack/fault_proxy.py on its own, in front of a tiny local upstream: the original
positional form still throttles one target and denies AssumeRole, random faults follow the
seed, and /__faults counts what was injected and the requests per second."""
import http.client
import http.server
import json
import socket
import subprocess
import sys
import threading
import time

import pytest


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Upstream(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen = 0

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Upstream.seen += 1
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def upstream():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def proxy(root, upstream):
    procs = []

    def start(*args):
        port = free_port()
        p = subprocess.Popen([sys.executable, str(root / "hack" / "fault_proxy.py"), str(port), upstream, *args])
        procs.append(p)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                return port
            except OSError:
                time.sleep(0.05)
        raise AssertionError("the proxy did not start")

    yield start
    for p in procs:
        p.terminate()
        p.wait()


def post(port, body=b"{}", headers=None):
    """(status, error type, body), or "reset" when the connection was reset."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request("POST", "/", body, headers or {})
        r = c.getresponse()
        return r.status, r.getheader("x-amzn-ErrorType"), r.read()
    except (ConnectionResetError, http.client.RemoteDisconnected):
        return "reset"
    finally:
        c.close()


def stats(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", "/__faults")
    return json.loads(c.getresponse().read())


def test_positional_form_throttles_a_target_and_denies_assume_role(proxy):
    port = proxy("cannot-assume", "AWSEvents.ListTargetsByRule", "2")
    target = {"X-Amz-Target": "AWSEvents.ListTargetsByRule"}
    assert [post(port, headers=target)[:2] for _ in range(3)] == [
        (400, "ThrottlingException"), (400, "ThrottlingException"), (200, None)]
    assert post(port, headers={"X-Amz-Target": "AWSEvents.ListRules"})[0] == 200
    denied = post(port, b"Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fcannot-assume",
                  {"Content-Type": "application/x-www-form-urlencoded"})
    assert denied[0] == 403 and b"<Code>AccessDenied</Code>" in denied[2]
    assert stats(port)["injected"]["throttle"] == 2


def test_random_faults_follow_the_seed_and_are_counted_by_kind(proxy):
    def run(seed):
        port = proxy("--fault-rate", "0.5", "--seed", str(seed), "--latency-ms", "1")
        before = Upstream.seen
        outcomes = []
        for i in range(60):
            xml = i % 2 == 0
            r = post(port, b"Action=ListRoles" if xml else b"{}",
                     {"Content-Type": "application/x-www-form-urlencoded"} if xml else {})
            outcomes.append(r if r == "reset" else r[0])
            if r != "reset" and r[0] == 400:
                # Throttling as AWS says it: a header for JSON, a <Code> for IAM/STS XML.
                assert (b"<Code>Throttling</Code>" in r[2]) if xml else r[1] == "ThrottlingException"
        # Faults are injected instead of forwarding: only successes reached the upstream.
        assert Upstream.seen - before == outcomes.count(200)
        return outcomes, stats(port)

    first, s = run(7)
    again, _ = run(7)
    other, _ = run(8)
    assert first == again, "same seed, same faults"
    assert first != other
    injected = s["injected"]
    assert first.count(400) == injected.get("throttle", 0)
    assert first.count(500) == injected.get("server_error_500", 0)
    assert first.count(503) == injected.get("server_error_503", 0)
    assert first.count("reset") == injected.get("reset", 0)
    assert injected["server_error"] == injected.get("server_error_500", 0) + injected.get("server_error_503", 0)
    assert all(injected.get(k, 0) > 0 for k in ("throttle", "server_error", "reset", "latency"))
    assert s["requests"] == 60
    assert sum(s["per_second"].values()) == 60 and s["peak_rps"] >= 1


def test_a_lost_response_reaches_the_upstream_and_resets_the_client(proxy):
    port = proxy("--fault-rate", "1", "--fault-kinds", "lost_response")
    before = Upstream.seen
    assert post(port) == "reset"
    assert Upstream.seen - before == 1, "the write happened"
    assert stats(port)["injected"]["lost_response"] == 1


def test_peak_in_flight_counts_overlapping_requests_only(proxy):
    port = proxy("--fault-rate", "1", "--fault-kinds", "latency", "--latency-ms", "300")
    # One after another on one connection: never two in flight.
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    for _ in range(3):
        c.request("POST", "/", b"{}")
        c.getresponse().read()
    c.close()
    assert stats(port)["peak_in_flight"] == 1
    # Three at once, each held 300 ms by the latency fault.
    threads = [threading.Thread(target=post, args=(port,)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    s = stats(port)
    assert s["peak_in_flight"] == 3 and s["requests"] == 6
