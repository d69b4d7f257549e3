"""A resident as it travels between tablets: the Patient a tablet sends up (a conditional update carrying the
whole record), and the store's fields read back from a Patient the server holds.

- What goes up is `patient_resource` (the identity, FR Core, with what lets another tablet of the site take the
  resident over: the managing site, the room, the médecin traitant) plus the site's `meta.tag` and when each
  field was last changed (`FIELD_STAMPS_EXTENSION`: one
  `valueInstant` sub-extension per field, FHIR R4 "Extensibility", complex extensions). A resident an
  administrator merged into another carries `link` type `replaced-by` and `active: false`, the survivor `link`
  type `replaces` (HL7 FHIR R4 Patient.link, value set link-type); the other resident is named by a logical
  reference (Reference.identifier: its patient id), which needs no resolution on any server.
- `read_resident` gives the store's columns back from such a Patient (or from one a session bundle created, which
  has no stamps: its fields are then the oldest possible, and any stamped edit wins).
"""
from __future__ import annotations

from typing import Any, Mapping

from sync.fhir.resources import patient_resource
from sync.fhir.terminology import (BIRTH_PLACE_EXTENSION, FR_BIRTH_LIST_GIVEN_NAME, FR_IDENTITY_RELIABILITY,
                                   FR_INSEE_CODE_EXTENSION, GENDER, PATIENT_ID_SYSTEM, RESIDENT_ID_SYSTEM,
                                   ROOM_EXTENSION, RPPS_SYSTEM, SITE_TAG_SYSTEM)
from sync.vocabulary import BASE, INS_IDENTIFIER_TYPES

FIELD_STAMPS_EXTENSION = f"{BASE}/StructureDefinition/field-stamps"
_SEX = {fhir: code for code, fhir in GENDER.items()}


def _patient_ref(patient_id: str) -> dict[str, Any]:
    return {"identifier": {"system": PATIENT_ID_SYSTEM, "value": patient_id}}


def resident_resource(patient: Mapping[str, Any], stamps: Mapping[str, str], *, ins_system: str,
                      organization_ref: str | None = None, site_code: str | None = None,
                      replaces: tuple[str, ...] = ()) -> dict[str, Any]:
    """The whole Patient a tablet sends for a resident (module docstring): `patient_resource` (identity, room,
    médecin traitant, managing site) with the site's tag, the field stamps and the merge links. `patient`: the
    store's row (its `merged_into` gives the replaced-by link); `replaces`: the residents merged into this one."""
    resource = patient_resource(patient, ins_system=ins_system, organization_ref=organization_ref)
    if site_code:
        meta = resource.setdefault("meta", {})
        meta["tag"] = [*meta.get("tag", []), {"system": SITE_TAG_SYSTEM, "code": site_code}]
    resource["extension"].append({"url": FIELD_STAMPS_EXTENSION, "extension": [
        {"url": key, "valueInstant": stamps[key]} for key in sorted(stamps)]})
    links = [{"other": _patient_ref(other), "type": "replaces"} for other in replaces]
    if patient.get("merged_into"):
        links.append({"other": _patient_ref(patient["merged_into"]), "type": "replaced-by"})
    resource["active"] = not patient.get("merged_into")
    if links:
        resource["link"] = links
    return resource


def site_code(site: Mapping[str, Any]) -> str:
    """The code of the site's `meta.tag`: its FINESS, else its local id (as sync.fhir.bundle.site_tag)."""
    return site.get("finess") or site["id"]


# -- reading a Patient back ---------------------------------------------------------------------------------------

def _extension(node: Mapping[str, Any], url: str) -> dict[str, Any] | None:
    return next((e for e in node.get("extension") or () if isinstance(e, dict) and e.get("url") == url), None)


def _identifier(resource: Mapping[str, Any], systems: Any) -> str | None:
    return next((i.get("value") for i in resource.get("identifier") or ()
                 if isinstance(i, dict) and i.get("system") in systems), None)


def _names(resource: Mapping[str, Any]) -> dict[str, Any]:
    names = [n for n in resource.get("name") or () if isinstance(n, dict)]
    official = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    usual = next((n for n in names if n.get("use") == "usual"), None)
    birth_list = _extension(official, FR_BIRTH_LIST_GIVEN_NAME)
    return {"family_name": official.get("family"), "given_name": (official.get("given") or [None])[0],
            "birth_given_names": birth_list.get("valueString") if birth_list else None,
            "usual_name": usual.get("family") if usual else None}


def _reliability(resource: Mapping[str, Any]) -> dict[str, Any]:
    codes = {e.get("url"): (e.get("valueCoding") or {}).get("code")
             for e in (_extension(resource, FR_IDENTITY_RELIABILITY) or {}).get("extension") or ()}
    status = codes.get("identityStatus") or "PROV"
    return {"identity_status": status, "identity_method": codes.get("methodCollection"),
            "identity_document": codes.get("validationMode"),
            "ins": _identifier(resource, INS_IDENTIFIER_TYPES) if status == "QUAL" else None}


def _birth_place(resource: Mapping[str, Any]) -> str | None:
    address = (_extension(resource, BIRTH_PLACE_EXTENSION) or {}).get("valueAddress") or {}
    return ((_extension(address, FR_INSEE_CODE_EXTENSION) or {}).get("valueCoding") or {}).get("code")


def _gp_fields(resource: Mapping[str, Any]) -> dict[str, Any]:
    refs = [r.get("reference") for r in resource.get("generalPractitioner") or () if isinstance(r, dict)]
    gp = next((c for c in resource.get("contained") or () if isinstance(c, dict) and f"#{c.get('id')}" in refs), {})
    email = next((t.get("value") for t in gp.get("telecom") or () if t.get("system") == "email"), None)
    return {"gp_name": ((gp.get("name") or [{}])[0]).get("text"), "gp_rpps": _identifier(gp, (RPPS_SYSTEM,)),
            "gp_mssante": email}


def _links(resource: Mapping[str, Any], kind: str) -> list[str]:
    found = []
    for link in resource.get("link") or ():
        other = (link.get("other") or {}).get("identifier") or {}
        if link.get("type") == kind and other.get("system") == PATIENT_ID_SYSTEM and other.get("value"):
            found.append(other["value"])
    return found


def read_resident(resource: Mapping[str, Any]) -> dict[str, Any]:
    """{patient_id, values, stamps, version, replaced_by, replaces} of a Patient; ValueError when it carries no
    patient id of this product (a record some other software made: not a resident of the tablets)."""
    patient_id = _identifier(resource, (PATIENT_ID_SYSTEM,))
    if not patient_id:
        raise ValueError("a Patient without a patient-id identifier")
    room = _extension(resource, ROOM_EXTENSION)
    values = {**_names(resource), **_reliability(resource), **_gp_fields(resource),
              "birth_date": resource.get("birthDate"), "sex": _SEX.get(resource.get("gender") or ""),
              "birth_place_insee": _birth_place(resource), "resident_id": _identifier(resource, (RESIDENT_ID_SYSTEM,)),
              "room": room.get("valueString") if room else None}
    stamps = {e["url"]: e["valueInstant"] for e in (_extension(resource, FIELD_STAMPS_EXTENSION) or {}).get(
        "extension") or () if isinstance(e.get("url"), str) and isinstance(e.get("valueInstant"), str)}
    replaced_by = _links(resource, "replaced-by")
    return {"patient_id": patient_id, "values": values, "stamps": stamps,
            "version": (resource.get("meta") or {}).get("versionId"), "replaced_by": replaced_by[0] if replaced_by
            else None, "replaces": tuple(_links(resource, "replaces")),
            "last_updated": (resource.get("meta") or {}).get("lastUpdated")}


def identity_traits(resource: Mapping[str, Any]) -> dict[str, Any]:
    """The strict traits, the status and the INS of a Patient: what a server keeps once the identity is retrieved
    or qualified."""
    names = _names(resource)
    reliability = _reliability(resource)
    return {"family_name": names["family_name"], "given_name": names["given_name"],
            "birth_given_names": names["birth_given_names"], "birth_date": resource.get("birthDate"),
            "sex": resource.get("gender"), "birth_place_insee": _birth_place(resource),
            "identity_status": reliability["identity_status"], "ins": reliability["ins"]}


__all__ = ["FIELD_STAMPS_EXTENSION", "ROOM_EXTENSION", "identity_traits",
           "read_resident", "resident_resource", "site_code"]
