"""Plots a bench run: objects Ready over time for the controller and the floor, and AWS
calls per second per service for the controller. Usage: bench_plot.py SAMPLES.csv FLOOR.csv OUT.png TITLE"""
import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

samples, floor, out, title = sys.argv[1:5]
limited = sys.argv[5] if len(sys.argv) > 5 else None
ready = {}
calls = defaultdict(dict)
for row in csv.DictReader(open(samples)):
    t = float(row["t"])
    ready[t] = int(row["ready"])
    calls[row["service"]][t] = int(row["calls"])
floor_done = sorted(float(r["t"]) for r in csv.DictReader(open(floor)))

fig, (a, b) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
ts = sorted(ready)
a.plot(ts, [ready[t] for t in ts], label="controller: objects Ready")
a.plot(floor_done, range(1, len(floor_done) + 1), label="floor: integrations written (bare SDK)")
if limited:
    done = sorted(float(r["t"]) for r in csv.DictReader(open(limited)))
    a.plot(done, range(1, len(done) + 1), label="floor under the controller's rate limits")
a.set_ylabel("objects")
a.legend()
a.set_title(title)
for service, series in sorted(calls.items()):
    ts = sorted(series)
    rates = [(series[t2] - series[t1]) / (t2 - t1) for t1, t2 in zip(ts, ts[1:]) if t2 > t1]
    b.plot(ts[1:len(rates) + 1], rates, label=f"controller: {service}")
if floor_done:
    end = floor_done[-1]
    b.axvline(end, linestyle="--", color="grey", label=f"floor done ({end:.1f}s)")
b.set_xlabel("seconds since apply")
b.set_ylabel("AWS calls per second")
b.legend(fontsize=8)
fig.tight_layout()
fig.savefig(out, dpi=110)
print(f"[figures] plot written to {out}")
