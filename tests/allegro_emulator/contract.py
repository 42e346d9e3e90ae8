"""Check JSON bodies against Allegro's OpenAPI 3.0 spec (test helpers, not used by the server).

    from allegro_emulator.contract import load_spec, validate_request, validate_response
    spec = load_spec()  # None when the spec file is absent
    validate_response(spec, "GET", "/order/checkout-forms/{id}", 200, body, "application/vnd.allegro.public.v1+json")

Failures raise ContractError (an AssertionError) naming the operation and the
offending field. Needs PyYAML and openapi-schema-validator.
"""

import copy
import json
import os
import threading
from pathlib import Path

SPEC_ENV = "ALLEGRO_OPENAPI"
# tests/allegro_emulator/contract.py -> <repo>/../shared/allegro/allegro-openapi.yaml
DEFAULT_SPEC = Path(__file__).resolve().parents[3] / "shared" / "allegro" / "allegro-openapi.yaml"

_specs = {}
_validators = {}
_relaxed = {}
_lock = threading.Lock()


class ContractError(AssertionError):
    pass


def spec_path():
    return Path(os.environ.get(SPEC_ENV) or DEFAULT_SPEC)


def load_spec(path=None):
    """The parsed spec (parsed once per process and path), or None if the file is absent."""
    import yaml

    path = Path(path or spec_path())
    with _lock:
        if path not in _specs:
            if not path.is_file():
                return None
            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            with path.open(encoding="utf-8") as handle:
                _specs[path] = yaml.load(handle, Loader=loader)
        return _specs[path]


def require_spec():
    """The parsed spec, or a failure naming where it was looked for: contract tests never skip."""
    spec = load_spec()
    if spec is None:
        raise ContractError("Allegro's OpenAPI specification was not found at %s; set %s to its path"
                            % (spec_path(), SPEC_ENV))
    return spec


def without_required(spec, schema, field):
    """A copy of ``spec`` in which ``field`` of #/components/schemas/<schema> is not required.

    For a known error of the spec: PickupCreateRequestDto lists
    ``pickupDateProposalId`` as required, while its own description (and
    Allegro, since ``pickupTime`` replaced it) requires it only without
    ``pickupTime``.
    """
    key = (id(spec), schema, field)
    with _lock:
        if key not in _relaxed:
            relaxed = copy.deepcopy(spec)
            target = relaxed["components"]["schemas"][schema]
            target["required"] = [name for name in target.get("required", []) if name != field]
            _relaxed[key] = relaxed
        return _relaxed[key]


def _pointer(*parts):
    return "#/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _validator(spec, pointer):
    """An OAS 3.0 validator for the schema at ``pointer``; its $refs resolve against the whole spec."""
    from openapi_schema_validator import OAS30Validator, oas30_format_checker

    key = (id(spec), pointer)
    with _lock:
        if key not in _validators:
            # The root holds the components, so "#/components/..." refs resolve; allOf wraps the target.
            target = _resolve(spec, pointer)
            root = {"components": spec.get("components", {}), "allOf": [target]}
            _validators[key] = OAS30Validator(root, format_checker=oas30_format_checker)
        return _validators[key]


def _resolve(spec, pointer):
    node = spec
    for part in pointer[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _check(spec, pointer, instance, what):
    errors = sorted(_validator(spec, pointer).iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        lines = ["%s: %s does not match the spec:" % (what, pointer)]
        for error in errors[:5]:
            lines.append("  at %s: %s" % ("/".join(map(str, error.absolute_path)) or "(root)", error.message[:300]))
        raise ContractError("\n".join(lines))


def _operation(spec, method, path_template):
    try:
        return spec["paths"][path_template][method.lower()]
    except KeyError:
        raise ContractError("%s %s is not an operation of the spec" % (method.upper(), path_template)) from None


def _as_json(body):
    if isinstance(body, (bytes, str)):
        return json.loads(body) if body else None
    return body


def validate_schema(spec, name, instance):
    """Validate ``instance`` against #/components/schemas/<name>."""
    _check(spec, _pointer("components", "schemas", name), instance, name)


def validate_response(spec, method, path_template, status, body, media_type):
    """Validate one response against what the spec declares for that operation and status.

    The status must be declared (or a 'default' response exist) and the media
    type (parameters such as charset ignored) must be one the response
    declares. A declared response without content (e.g. many 401/404s) has
    nothing to check. ``body`` may be parsed JSON, bytes or str.
    """
    what = "%s %s -> %s" % (method.upper(), path_template, status)
    responses = _operation(spec, method, path_template).get("responses", {})
    key = str(status) if str(status) in responses else "default"
    if key not in responses:
        raise ContractError("%s: status not declared (declared: %s)" % (what, ", ".join(map(str, responses))))
    content = responses[key].get("content")
    if not content:
        return
    media = (media_type or "").split(";")[0].strip()
    if media not in content and "*/*" not in content:  # */*: a file of any type (attachments)
        raise ContractError("%s: media type %r, the spec declares %s" % (what, media_type, ", ".join(content)))
    if media in content and "schema" in content[media] and media.endswith("json"):
        pointer = _pointer("paths", path_template, method.lower(), "responses", key, "content", media, "schema")
        _check(spec, pointer, _as_json(body), what)


def validate_request(spec, method, path_template, body, media_type=None):
    """Validate a request body against the operation's requestBody schema.

    ``media_type`` defaults to the first one the operation declares; non-JSON
    bodies (e.g. the invoice PDF) are only checked for a declared media type.
    """
    what = "%s %s request" % (method.upper(), path_template)
    request_body = _operation(spec, method, path_template).get("requestBody")
    if request_body is None:
        raise ContractError("%s: the operation takes no request body" % what)
    prefix = ("paths", path_template, method.lower(), "requestBody")
    if "$ref" in request_body:  # a shared body of #/components/requestBodies (e.g. /sale/issues)
        prefix = tuple(request_body["$ref"].lstrip("#/").split("/"))
        request_body = spec["components"]["requestBodies"][prefix[-1]]
    content = request_body.get("content", {})
    media = (media_type or next(iter(content), "")).split(";")[0].strip()
    if media not in content:
        raise ContractError("%s: media type %r, the spec declares %s" % (what, media_type, ", ".join(content)))
    if "schema" in content[media] and media.endswith("json"):
        pointer = _pointer(*prefix, "content", media, "schema")
        _check(spec, pointer, _as_json(body), what)
