"""Samples the controller's /metrics every 0.5 s while a bench phase runs: objects Ready
(the ebi_integrations gauge) and cumulative AWS calls per service. Writes CSV rows
`t,ready,service,calls` to OUT until STOP_FILE exists. Usage: bench_sample.py PORT OUT STOP_FILE"""
import os
import re
import sys
import time
import urllib.request

port, out, stop = sys.argv[1], sys.argv[2], sys.argv[3]
start = time.time()
call = re.compile(r'^ebi_aws_calls_total\{service="([^"]+)",operation="[^"]+",outcome="[^"]+"\} (\S+)')
with open(out, "w") as f:
    f.write("t,ready,service,calls\n")
    while not os.path.exists(stop):
        try:
            text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
        except OSError:
            time.sleep(0.5)
            continue
        t = time.time() - start
        ready = 0
        per_service = {}
        for line in text.splitlines():
            if line.startswith('ebi_integrations{ready="true"}'):
                ready = int(float(line.split()[-1]))
            m = call.match(line)
            if m:
                per_service[m.group(1)] = per_service.get(m.group(1), 0) + float(m.group(2))
        for service, n in sorted(per_service.items()):
            f.write(f"{t:.2f},{ready},{service},{int(n)}\n")
        f.flush()
        time.sleep(0.5)
