"""What a transaction Bundle may hold and how its references are resolved, as pure functions (no storage).

HL7 FHIR R4 RESTful API, "Batch/Transaction" (transaction processing rules): the server accepts POST entries, each
`request.url` a resource type matching the resource, and conditional updates (`PUT Type?identifier=SYSTEM|VALUE`); `fullUrl` unique in the Bundle (bdl-7); conditional creates by
`ifNoneExist: identifier=SYSTEM|VALUE` (the only search this server understands — `Patient?identifier=…`, a URL
rather than a query, is refused, as it silently duplicates on some engines). References are rewritten once the
entries have their server ids: `urn:uuid:` fullUrls to the new `Type/id`, conditional references
(`Type?identifier=SYSTEM|VALUE`) to the one resource they match.
"""
from __future__ import annotations

import re
from typing import Any, Callable
from urllib.parse import parse_qsl

from sync.server.outcome import FhirError

TYPE_NAME = re.compile(r"[A-Z][A-Za-z]{1,63}")
RESOURCE_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
CONDITIONAL_REFERENCE = re.compile(r"([A-Z][A-Za-z]+)\?(identifier=.+)")
_PLAIN_IDENTIFIER_QUERY = re.compile(r"identifier=([^%+&;=]*)")  # no escape, no other parameter


def parse_if_none_exist(text: Any, index: int) -> tuple[str, str]:
    """`identifier=SYSTEM|VALUE` → (system, value); FhirError(400) for anything else."""
    if not isinstance(text, str) or not text:
        raise FhirError(400, f"entry[{index}].request.ifNoneExist must be a non-empty string")
    if "?" in text:
        raise FhirError(400, f"entry[{index}].request.ifNoneExist must hold the query part only "
                             f"('identifier=system|value'), not a URL with '?'")
    plain = _PLAIN_IDENTIFIER_QUERY.fullmatch(text)
    try:  # nothing to decode in the plain form: parse_qsl would give the same
        params = [("identifier", plain.group(1))] if plain else parse_qsl(text, keep_blank_values=True,
                                                                         strict_parsing=True)
    except ValueError:
        raise FhirError(400, f"entry[{index}].request.ifNoneExist is not a query string") from None
    if len(params) != 1 or params[0][0] != "identifier" or "|" not in params[0][1]:
        raise FhirError(400, f"entry[{index}].request.ifNoneExist: only 'identifier=system|value' is supported")
    system, _, value = params[0][1].partition("|")
    if not system or not value:
        raise FhirError(400, f"entry[{index}].request.ifNoneExist needs both a system and a value")
    return system, value


def validate_transaction(bundle: Any) -> list[dict[str, Any]]:
    """Check the bundle shape; returns the entries. Raises FhirError(400) saying what is wrong."""
    if not isinstance(bundle, dict):
        raise FhirError(400, "body must be a JSON object")
    if bundle.get("resourceType") != "Bundle":
        raise FhirError(400, f"resourceType must be 'Bundle', got {bundle.get('resourceType')!r}")
    if bundle.get("type") != "transaction":
        raise FhirError(400, f"Bundle.type must be 'transaction', got {bundle.get('type')!r}")
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        raise FhirError(400, "Bundle.entry must be a list")
    full_urls: set[str] = set()
    for i, entry in enumerate(entries):
        _validate_entry(entry, i)
        full_url = entry.get("fullUrl")
        if full_url is not None:
            if not isinstance(full_url, str) or not full_url:
                raise FhirError(400, f"entry[{i}].fullUrl must be a string")
            if full_url in full_urls:
                raise FhirError(400, f"entry[{i}].fullUrl is used twice in the bundle")
            full_urls.add(full_url)
    return entries


def _validate_entry(entry: Any, i: int) -> None:
    if not isinstance(entry, dict):
        raise FhirError(400, f"entry[{i}] must be an object")
    resource, request = entry.get("resource"), entry.get("request")
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        raise FhirError(400, f"entry[{i}].resource with a resourceType is required")
    if not isinstance(request, dict):
        raise FhirError(400, f"entry[{i}].request is required")
    if request.get("method") == "PUT":
        _validate_conditional_update(resource, request, i)
        return
    if request.get("method") != "POST":
        raise FhirError(400, f"entry[{i}].request.method {request.get('method')!r}: this server supports POST and "
                             f"a conditional PUT")
    url = request.get("url")
    if not isinstance(url, str) or not TYPE_NAME.fullmatch(url):
        raise FhirError(400, f"entry[{i}].request.url must be a resource type such as 'Patient'")
    if url != resource["resourceType"]:
        raise FhirError(400, f"entry[{i}]: request.url {url!r} does not match resourceType "
                             f"{resource['resourceType']!r}")
    if "ifNoneExist" in request:
        parse_if_none_exist(request["ifNoneExist"], i)


def conditional_update_target(request: dict[str, Any], index: int) -> tuple[str, str, str]:
    """(type, system, value) of a conditional update's URL `Type?identifier=SYSTEM|VALUE`."""
    rtype, _, query = str(request.get("url")).partition("?")
    system, value = parse_if_none_exist(query, index)
    return rtype, system, value


def _validate_conditional_update(resource: dict[str, Any], request: dict[str, Any], i: int) -> None:
    """HL7 FHIR R4 RESTful API, "conditional update": `PUT Type?identifier=SYSTEM|VALUE`, the resource carrying
    that very identifier (the one it is found by next time)."""
    url = request.get("url")
    if not isinstance(url, str) or "?" not in url or not TYPE_NAME.fullmatch(url.partition("?")[0]):
        raise FhirError(400, f"entry[{i}].request.url: a PUT must be a conditional update 'Type?identifier=system|value'")
    rtype, system, value = conditional_update_target(request, i)
    if rtype != resource["resourceType"]:
        raise FhirError(400, f"entry[{i}]: request.url {rtype!r} does not match resourceType {resource['resourceType']!r}")
    if (system, value) not in resource_identifiers(resource):
        raise FhirError(400, f"entry[{i}]: the resource must carry the identifier its conditional update matches")


def rewrite_references(node: Any, mapping: dict[str, str], resolve: Callable[[str], str] | None = None) -> Any:
    """urn:uuid references → the entries' new `Type/id`; conditional references (`Type?identifier=sys|val`,
    FHIR R4 transaction processing) → the one resource they match, through `resolve`."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "reference" and isinstance(value, str) and value.startswith("urn:uuid:"):
                if value not in mapping:
                    raise FhirError(400, "a urn:uuid reference does not resolve to an entry of the bundle")
                out[key] = mapping[value]
            elif key == "reference" and isinstance(value, str) and resolve is not None \
                    and CONDITIONAL_REFERENCE.fullmatch(value):
                out[key] = resolve(value)
            else:
                out[key] = rewrite_references(value, mapping, resolve)
        return out
    if isinstance(node, list):
        return [rewrite_references(item, mapping, resolve) for item in node]
    return node


def rewrite_references_in_place(node: Any, mapping: dict[str, str], resolve: Callable[[str], str] | None = None
                                ) -> list[str]:
    """`rewrite_references` changing `node` itself: for a parsed request body the server only stores, so that no
    second copy of it is made. Returns every reference string of `node` once rewritten (what
    sync.server.sites.reference_strings would find), gathered on the same walk."""
    found: list[str] = []
    stack = [node]
    while stack:  # parsed JSON holds exactly dicts, lists, str and numbers: `type(...) is` is the cheap test
        item = stack.pop()
        if type(item) is dict:
            for key, value in item.items():
                kind = type(value)
                if kind is str:
                    if key != "reference":
                        continue
                    if value.startswith("urn:uuid:"):
                        if value not in mapping:
                            raise FhirError(400, "a urn:uuid reference does not resolve to an entry of the bundle")
                        item[key] = value = mapping[value]
                    elif resolve is not None and CONDITIONAL_REFERENCE.fullmatch(value):
                        item[key] = value = resolve(value)
                    found.append(value)
                elif kind is dict or kind is list:
                    stack.append(value)
        elif type(item) is list:
            stack.extend(value for value in item if type(value) is dict or type(value) is list)
    return found


def resource_identifiers(resource: dict[str, Any]) -> list[tuple[str, str]]:
    """(system, value) of each Identifier the resource carries."""
    found = []
    idents = resource.get("identifier") or []
    if isinstance(idents, dict):  # Composition.identifier (and Bundle.identifier) hold one Identifier, not a list
        idents = [idents]
    for ident in idents:
        if isinstance(ident, dict) and isinstance(ident.get("system"), str) and isinstance(ident.get("value"), str):
            found.append((ident["system"], ident["value"]))
    return found
