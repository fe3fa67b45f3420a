"""A fault-injecting HTTP proxy in front of the AWS emulator, for what moto cannot do:
answer sts:AssumeRole with AccessDenied for chosen role ARNs (moto assumes any role), and
throttle an operation like AWS does.
Usage: fault_proxy.py PORT UPSTREAM_URL DENY_SUBSTRING [THROTTLED_TARGET [N]]
  THROTTLED_TARGET: an X-Amz-Target such as AWSEvents.ListTargetsByRule; of every N+1 such
  requests the first N get HTTP 400 ThrottlingException. Listens on 127.0.0.1 only."""
import itertools
import threading
import http.client
import http.server
import sys
import urllib.parse

PORT, UPSTREAM, DENY = int(sys.argv[1]), urllib.parse.urlparse(sys.argv[2]), sys.argv[3].encode()
THROTTLED = sys.argv[4] if len(sys.argv) > 4 else None
EVERY = int(sys.argv[5]) if len(sys.argv) > 5 else 2
counter, lock = itertools.count(), threading.Lock()
THROTTLE_BODY = b'{"__type":"ThrottlingException","message":"Rate exceeded"}'
DENIED = (b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
          b'<Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/controller is not authorized '
          b'to perform: sts:AssumeRole on resource: the provisioning role</Message></Error>'
          b'<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>')


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        plain = urllib.parse.unquote_to_bytes(body)
        if THROTTLED and self.headers.get("X-Amz-Target") == THROTTLED:
            with lock:
                n = next(counter)
            if n % (EVERY + 1) != EVERY:
                self.send_response(400)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("x-amzn-ErrorType", "ThrottlingException")
                self.send_header("Content-Length", str(len(THROTTLE_BODY)))
                self.end_headers()
                self.wfile.write(THROTTLE_BODY)
                return
        if b"Action=AssumeRole" in plain and DENY in plain:
            self.send_response(403)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(DENIED)))
            self.end_headers()
            self.wfile.write(DENIED)
            return
        upstream = http.client.HTTPConnection(UPSTREAM.hostname, UPSTREAM.port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
        upstream.request(self.command, self.path, body, headers)
        response = upstream.getresponse()
        data = response.read()
        self.send_response(response.status)
        for k, v in response.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        upstream.close()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = handle_any


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
