"""moto's server, with one difference that makes it answer like AWS: IAM's
GetAccountAuthorizationDetails is paginated (MaxItems, at most 1,000 and 100 by default,
then Marker), as AWS documents. moto returns every entity in one response, which no AWS
account does; a controller reading 10,000 roles would otherwise be measured against a
40 MB answer AWS never sends. Usage: as `moto_server` (same arguments)."""
import sys

from moto.core.responses import ActionResult
from moto.iam.responses import IamResponse
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

if __name__ == "__main__":
    main(sys.argv[1:])
