"""moto's server, with one difference that makes it answer like AWS: IAM's
GetAccountAuthorizationDetails is paginated (MaxItems, at most 1,000 and 100 by default,
then Marker), as AWS documents. moto returns every entity in one response, which no AWS
account does; a controller reading 10,000 roles would otherwise be measured against a
40 MB answer AWS never sends. And EventBridge's tag calls find a rule by its whole ARN,
as AWS does: moto looks a rule up by its last path segment on the first bus that has that
name, so `rule/my-bus/r` answered with the tags of `rule/r` on the default bus. And
PutEvents goes to the rules whose pattern matches, as on AWS: moto also sent every event to
every scheduled rule (no pattern matches all in moto), and answered 500 when a matching rule
had a target it cannot deliver to (Step Functions, ECS, Lambda), so no event put on a bus
holding such a rule reached any queue (the drift events' test puts CloudTrail-shaped events
on the default bus). And an event bus may be a CloudWatch Logs delivery source (log types
ERROR_LOGS, INFO_LOGS, TRACE_LOGS), as on AWS since July 2025: moto's list of services that
vend logs predates event bus logging. And CloudTrail's LookupEvents, which moto lacks (it
answered 500), answers with no events, as a quiet account's trail does; the controller's
reading of real records is tested against recorded responses (tests/aws_behaviour.rs).
Usage: as `moto_server` (same arguments)."""
import json
import sys

from moto.core.responses import ActionResult
from moto.events.models import EventsBackend, Rule
from moto.cloudtrail.responses import CloudTrailResponse
from moto.iam.responses import IamResponse
from moto.logs.exceptions import ValidationException
from moto.logs.models import DeliverySource, LogsBackend
from moto.server import main

_unpaginated = IamResponse.get_account_authorization_details


def _paginated(self):
    result = _unpaginated(self)
    body = dict(result.result)
    max_items = min(int(self._get_param("MaxItems") or 100), 1000)
    start = int(self._get_param("Marker") or 0)
    # Entities in AWS's order of the response: users, groups, roles, policies.
    keys = ["UserDetailList", "GroupDetailList", "RoleDetailList", "Policies"]
    entities = [(k, e) for k in keys for e in list(body.get(k) or [])]
    page = entities[start:start + max_items]
    for k in keys:
        body[k] = [e for kk, e in page if kk == k]
    body["IsTruncated"] = start + max_items < len(entities)
    if body["IsTruncated"]:
        body["Marker"] = str(start + max_items)
    return ActionResult(body)


IamResponse.get_account_authorization_details = _paginated


def _tagged_by_arn(original):
    """A tag call on the rule (or bus) the ARN names, not on a namesake of another bus."""

    def call(self, arn, *args):
        kind, _, rest = arn.split(":", 5)[-1].partition("/")
        found = None
        if kind == "rule":
            bus, _, name = rest.rpartition("/")
            found = self.event_buses.get(bus or "default")
            found = found.rules.get(name) if found else None
        if found is None:
            return original(self, arn, *args)
        if original.__name__ == "list_tags_for_resource":
            return self.tagger.list_tags_for_resource(found.arn)
        if original.__name__ == "tag_resource":
            tags = self.tagger.convert_dict_to_tags_input(args[0])
            return self.tagger.tag_resource(found.arn, tags)
        return self.tagger.untag_resource_using_names(found.arn, args[0])

    return call


for _name in ("list_tags_for_resource", "tag_resource", "untag_resource"):
    setattr(EventsBackend, _name, _tagged_by_arn(getattr(EventsBackend, _name)))

_send_to_targets = Rule.send_to_targets
# What moto's send_to_targets delivers; it raises on any other target.
_DELIVERED = ("arn:aws:logs:", "arn:aws:sqs:", "arn:aws:events:")


def _send_matching(self, original_event, transform_input=True):
    """Only a rule with a pattern receives put events; only targets moto delivers to."""
    if not self.event_pattern.get_pattern():
        return
    if not self.event_pattern.matches_event(original_event):
        return
    targets = self.targets
    self.targets = [t for t in targets if t["Arn"].startswith(_DELIVERED)]
    try:
        _send_to_targets(self, original_event, transform_input)
    finally:
        self.targets = targets


Rule.send_to_targets = _send_matching

_put_delivery_source = LogsBackend.put_delivery_source
_BUS_LOG_TYPES = ("ERROR_LOGS", "INFO_LOGS", "TRACE_LOGS")


def _put_delivery_source_of_a_bus(self, name, resource_arn, log_type, tags):
    """An event bus's delivery source, as AWS accepts it; any other as moto does."""
    if resource_arn.split(":")[2] != "events":
        return _put_delivery_source(self, name, resource_arn, log_type, tags)
    if log_type not in _BUS_LOG_TYPES:
        raise ValidationException(msg=" This service is not allowed for this LogSource.")
    source = DeliverySource(
        account_id=self.account_id,
        region=self.region_name,
        name=name,
        resource_arn=resource_arn,
        log_type=log_type,
        tags=tags,
    )
    self.delivery_sources[name] = source
    return source


LogsBackend.put_delivery_source = _put_delivery_source_of_a_bus


def _lookup_no_events(self):
    return json.dumps({"Events": []})


CloudTrailResponse.lookup_events = _lookup_no_events

if __name__ == "__main__":
    main(sys.argv[1:])
