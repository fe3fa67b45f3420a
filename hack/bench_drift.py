"""Time from a hand edit to its correction, for `make bench` (hack/bench_drift.sh): removes
the target of 20 integrations' rules at once (optionally announcing each with a
CloudTrail-shaped event on the default bus, as CloudTrail would) and prints the seconds
until each target is back, one a line. Usage: bench_drift.py NAMESPACE event|silent"""
import json
import os
import subprocess
import sys
import time

import boto3

ns, mode = sys.argv[1], sys.argv[2]
events = boto3.client("events", region_name="us-east-1", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
objects = json.loads(subprocess.check_output(["kubectl", "get", "ebi", "-n", ns, "-o", "json"]))["items"]
rules = sorted(o["status"]["ruleName"] for o in objects if o.get("status", {}).get("ruleName"))[:20]
assert len(rules) == 20, f"{len(rules)} rules"
edited = {}
for rule in rules:
    ids = [t["Id"] for t in events.list_targets_by_rule(Rule=rule)["Targets"]]
    events.remove_targets(Rule=rule, Ids=ids)
    edited[rule] = time.time()
    if mode == "event":
        detail = {"eventSource": "events.amazonaws.com", "eventName": "RemoveTargets", "awsRegion": "us-east-1",
                  "recipientAccountId": "123456789012",
                  "userIdentity": {"arn": "arn:aws:iam::123456789012:user/bench"},
                  "requestParameters": {"rule": rule, "ids": ids}}
        events.put_events(Entries=[{"Source": "aws.events", "DetailType": "AWS API Call via CloudTrail",
                                    "Detail": json.dumps(detail)}])
pending = dict(edited)
deadline = time.time() + 3600
while pending and time.time() < deadline:
    for rule in list(pending):
        if events.list_targets_by_rule(Rule=rule)["Targets"]:
            print(f"{time.time() - pending.pop(rule):.2f}", flush=True)
    time.sleep(0.2)
assert not pending, f"not corrected: {sorted(pending)}"
