"""A fault-injecting HTTP proxy in front of the AWS emulator, for what moto cannot do.

Targeted faults (the original positional form, still accepted as is):
  fault_proxy.py PORT UPSTREAM_URL [DENY_SUBSTRING [THROTTLED_TARGET [N]]]
  DENY_SUBSTRING: sts:AssumeRole requests naming it get AccessDenied (moto assumes any role);
  "-" denies nothing. THROTTLED_TARGET: an X-Amz-Target such as AWSEvents.ListTargetsByRule;
  of every N+1 such requests the first N get HTTP 400 ThrottlingException.

STS out of breath:
  --throttle-assume-role N   the first N sts:AssumeRole requests get HTTP 400 Throttling (XML),
                    as when an account's STS quota is spent; later ones are forwarded

A region out of reach:
  --deny-region R   every request signed for region R (its SigV4 credential scope) gets
                    AccessDenied, as when the credentials may no longer act there

A service call the credentials lack:
  --deny-get-path P every GET whose path starts with P gets 403 AccessDeniedException (the
                    REST-JSON services: `/schedules` is Scheduler's ListSchedules)

Random faults, for resilience tests:
  --fault-rate 0.2   this share of requests gets one fault, drawn evenly from --fault-kinds:
      throttle      HTTP 400 as AWS throttles: `x-amzn-ErrorType: ThrottlingException` for
                    the JSON protocols, `<Code>Throttling</Code>` for IAM/STS's XML
      server_error  HTTP 500 InternalFailure or 503 ServiceUnavailable (half each)
      reset         the request is read, then the socket is reset (RST) with no response
      latency       the request is forwarded after --latency-ms
      lost_response the request is forwarded (the emulator applies it), then the socket is
                    reset: the client does not know its write happened. Not in the default
                    mix: moto accepts a duplicate Lambda StatementId where AWS answers 409,
                    so a lost AddPermission makes a duplicate AWS itself would refuse.
  --seed N          the sequence of decisions is deterministic for a seed (the requests'
                    arrival order is whatever the client makes it)
Faults other than lost_response are injected before forwarding: a faulted request never
reaches the emulator.

`GET /__faults` answers JSON: requests seen, injected faults by kind, requests per second
(by wall-clock second) and the peak, and the most requests ever in flight at once
(`peak_in_flight`: counted from the request's arrival until its answer is about to be
written, so a client's next call never overlaps the previous one's count). `--stats-file PATH` writes the same JSON at exit.
Listens on 127.0.0.1 only."""
import argparse
import collections
import http.client
import http.server
import itertools
import json
import random
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("port", type=int)
    p.add_argument("upstream")
    p.add_argument("deny", nargs="?", default="-", help='AssumeRole requests containing this are denied ("-": none)')
    p.add_argument("throttled_target", nargs="?", default=None)
    p.add_argument("every", nargs="?", type=int, default=2)
    p.add_argument("--fault-rate", type=float, default=0.0)
    p.add_argument("--fault-kinds", default="throttle,server_error,reset,latency")
    p.add_argument("--latency-ms", type=int, default=200)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--stats-file")
    p.add_argument("--deny-region")
    p.add_argument("--deny-get-path")
    p.add_argument("--throttle-assume-role", type=int, default=0)
    args = p.parse_args(argv)
    args.fault_kinds = [k for k in args.fault_kinds.split(",") if k]
    unknown = set(args.fault_kinds) - {"throttle", "server_error", "reset", "latency", "lost_response"}
    if unknown:
        p.error(f"unknown fault kinds: {sorted(unknown)}")
    if not 0.0 <= args.fault_rate <= 1.0:
        p.error("--fault-rate must be within [0, 1]")
    return args


ARGS = parse_args(sys.argv[1:])
UPSTREAM = urllib.parse.urlparse(ARGS.upstream)
DENY = None if ARGS.deny in ("", "-") else ARGS.deny.encode()
counter, lock = itertools.count(), threading.Lock()
rng = random.Random(ARGS.seed)
stats = {"requests": 0, "injected": collections.Counter(), "per_second": collections.Counter(),
         "in_flight": 0, "peak_in_flight": 0}

THROTTLE_JSON = b'{"__type":"ThrottlingException","message":"Rate exceeded"}'
DENIED = (b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
          b'<Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/controller is not authorized '
          b'to perform: sts:AssumeRole on resource: the provisioning role</Message></Error>'
          b'<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>')


def xml_error(kind, code, message):
    return (f'<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message>'
            f'</Error><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>').encode()


def draw_fault():
    """One decision per request, under the lock so the sequence only depends on the seed."""
    with lock:
        if ARGS.fault_rate <= 0 or rng.random() >= ARGS.fault_rate:
            return None
        kind = rng.choice(ARGS.fault_kinds)
        if kind == "server_error":
            kind = rng.choice(["server_error_500", "server_error_503"])
        return kind


def snapshot():
    with lock:
        per_second = dict(sorted(stats["per_second"].items()))
        injected = dict(stats["injected"])
        requests = stats["requests"]
        peak_in_flight = stats["peak_in_flight"]
    injected["server_error"] = injected.get("server_error_500", 0) + injected.get("server_error_503", 0)
    return {
        "requests": requests,
        "injected": injected,
        "per_second": {str(k): v for k, v in per_second.items()},
        "peak_rps": max(per_second.values(), default=0),
        "peak_in_flight": peak_in_flight,
        "seed": ARGS.seed,
        "fault_rate": ARGS.fault_rate,
    }


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answered(self):
        """The request leaves the in-flight count (once), before its answer is written."""
        if getattr(self, "counted", False):
            self.counted = False
            with lock:
                stats["in_flight"] -= 1

    def reply(self, status, content_type, body, headers=()):
        self.answered()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def inject(self, fault, xml):
        if fault == "throttle":
            if xml:
                self.reply(400, "text/xml", xml_error("Sender", "Throttling", "Rate exceeded"))
            else:
                self.reply(400, "application/x-amz-json-1.1", THROTTLE_JSON, [("x-amzn-ErrorType", "ThrottlingException")])
        elif fault in ("server_error_500", "server_error_503"):
            status, code = (500, "InternalFailure") if fault.endswith("500") else (503, "ServiceUnavailable")
            if xml:
                self.reply(status, "text/xml", xml_error("Receiver", code, "injected"))
            else:
                body = json.dumps({"__type": code, "message": "injected"}).encode()
                self.reply(status, "application/x-amz-json-1.1", body, [("x-amzn-ErrorType", code)])
        elif fault == "reset":
            self.answered()
            # SO_LINGER 0: close() sends RST, the client sees a reset, not a clean EOF.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True

    def handle_any(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/__faults":
            self.reply(200, "application/json", json.dumps(snapshot()).encode())
            return
        with lock:
            stats["requests"] += 1
            stats["per_second"][int(time.time())] += 1
            stats["in_flight"] += 1
            stats["peak_in_flight"] = max(stats["peak_in_flight"], stats["in_flight"])
        self.counted = True
        try:
            self.proxy(body)
        finally:
            self.answered()

    def proxy(self, body):
        plain = urllib.parse.unquote_to_bytes(body)
        if ARGS.throttled_target and self.headers.get("X-Amz-Target") == ARGS.throttled_target:
            with lock:
                n = next(counter)
            if n % (ARGS.every + 1) != ARGS.every:
                with lock:
                    stats["injected"]["throttle"] += 1
                self.reply(400, "application/x-amz-json-1.1", THROTTLE_JSON, [("x-amzn-ErrorType", "ThrottlingException")])
                return
        if ARGS.throttle_assume_role and b"Action=AssumeRole&" in plain + b"&":
            with lock:
                throttle = stats["injected"]["assume_role_throttle"] < ARGS.throttle_assume_role
                if throttle:
                    stats["injected"]["assume_role_throttle"] += 1
            if throttle:
                self.reply(400, "text/xml", xml_error("Sender", "Throttling", "Rate exceeded"))
                return
        if DENY and b"Action=AssumeRole" in plain and DENY in plain:
            self.reply(403, "text/xml", DENIED)
            return
        if ARGS.deny_region and f"/{ARGS.deny_region}/".encode() in (self.headers.get("Authorization") or "").encode():
            with lock:
                stats["injected"]["denied_region"] += 1
            if (self.headers.get("Content-Type") or "").startswith("application/x-www-form-urlencoded"):
                self.reply(403, "text/xml", xml_error("Sender", "AccessDenied", f"denied in {ARGS.deny_region}"))
            else:
                body = json.dumps({"__type": "AccessDeniedException", "message": f"denied in {ARGS.deny_region}"}).encode()
                self.reply(400, "application/x-amz-json-1.1", body, [("x-amzn-ErrorType", "AccessDeniedException")])
            return
        if ARGS.deny_get_path and self.command == "GET" and self.path.startswith(ARGS.deny_get_path):
            with lock:
                stats["injected"]["denied_path"] += 1
            body = json.dumps({"Message": f"not authorized to perform this call on {ARGS.deny_get_path}"}).encode()
            self.reply(403, "application/json", body, [("x-amzn-ErrorType", "AccessDeniedException")])
            return
        if not self.path.startswith("/moto-api"):
            fault = draw_fault()
            if fault:
                with lock:
                    stats["injected"][fault] += 1
                if fault == "latency":
                    time.sleep(ARGS.latency_ms / 1000)
                elif fault == "lost_response":
                    self.forward(body)
                    self.inject("reset", False)
                    return
                else:
                    # IAM and STS speak the query protocol (form body, XML errors).
                    xml = (self.headers.get("Content-Type") or "").startswith("application/x-www-form-urlencoded")
                    self.inject(fault, xml)
                    return
        status, response_headers, data = self.forward(body)
        self.answered()
        self.send_response(status)
        for k, v in response_headers:
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def forward(self, body):
        upstream = http.client.HTTPConnection(UPSTREAM.hostname, UPSTREAM.port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
        upstream.request(self.command, self.path, body, headers)
        response = upstream.getresponse()
        data = response.read()
        upstream.close()
        return response.status, response.getheaders(), data

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = handle_any


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog (5) drops connections when 100 reconciles start at once, and a
    # dropped SYN costs the client a 1 s retransmit: latency the test did not ask for.
    request_queue_size = 256

    def handle_error(self, request, client_address):
        pass  # a reset we injected, or a client that went away


def write_stats(*_):
    if ARGS.stats_file:
        with open(ARGS.stats_file, "w") as f:
            json.dump(snapshot(), f)
    sys.exit(0)


signal.signal(signal.SIGTERM, write_stats)
signal.signal(signal.SIGINT, write_stats)
Server(("127.0.0.1", ARGS.port), Handler).serve_forever()
