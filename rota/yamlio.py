"""The rota as a YAML file: load with path-named errors, dump so that load(dump(x)) == x.

The loader is YAML 1.2-flavoured on purpose: YAML 1.1 would read ``16:00`` as the integer 960
(base 60) and a language code ``no`` as ``False``. Only ``true``/``false`` are booleans and
numbers are plain decimal; times stay strings for pydantic to read.

Every problem comes back at once (per validation pass) as :class:`RotaError`, each message
naming its path the way a person reads the file, e.g.
``rotations[1].handoff: bad cron expression '61 * * * *'``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, time
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from rota.spec import RotaSpec


class RotaError(Exception):
    """A rota that cannot be used; ``messages`` are ``path: what is wrong``, in file order."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("\n".join(messages))
        self.messages = messages

    @classmethod
    def from_validation(cls, error: ValidationError) -> RotaError:
        """Turn pydantic's errors into ``a[1].b: message`` lines."""
        return cls(validation_messages(error))


class _Loader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1's surprises (base-60 ints, yes/no/on/off booleans)."""


_YAML11_ONLY = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _YAML11_ONLY]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|false)$"), list("tf"))
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$"),
    list("-+0123456789."),
)


def path_of(loc: tuple[int | str, ...]) -> str:
    """``('rotations', 1, 'handoff')`` → ``rotations[1].handoff``; the root is ``(root)``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(root)"


def _message(err: Mapping[str, Any]) -> str:
    kind = err["type"]
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return "unknown key"
    return str(err["msg"])


def validation_messages(error: ValidationError) -> list[str]:
    """Path-named messages of a RotaSpec ValidationError (reference problems unpacked)."""
    messages: list[str] = []
    for err in error.errors():
        ctx = err.get("ctx") or {}
        if err["type"] == "rota_references":
            messages.extend(f"{path}: {msg}" for path, msg in ctx["problems"])
            continue
        loc = tuple(err["loc"])
        # pydantic puts a wrapped model's own errors under the class name for unions; drop
        # nothing else: locs here are field names and list indices only.
        messages.append(f"{path_of(loc)}: {_message(err)}")
    return messages


def parse_rota(data: Any) -> RotaSpec:
    """A RotaSpec from already-parsed data (a mapping), or :class:`RotaError`."""
    if not isinstance(data, Mapping):
        raise RotaError(["(root): expected a mapping with team, members and rotations"])
    try:
        return RotaSpec.model_validate(dict(data))
    except ValidationError as error:
        raise RotaError.from_validation(error) from None


#: Top-level sections of a rota file that belong to the application, not to the rota engine
#: (escalation policies, exposure settings): the rota loader hands them back untouched instead
#: of refusing them.
EXTENSION_KEYS = ("policies", "exposure")


def load_rota_yaml(source: str | Path) -> RotaSpec:
    """Read a rota from YAML text, or from a file when given a Path.

    A ``str`` is always YAML text (a one-line path string would be ambiguous); pass
    ``Path(...)`` to read a file. Extension sections (``policies:``) are ignored here.
    """
    return read_rota_document(source)[0]


def read_rota_document(source: str | Path) -> tuple[RotaSpec, dict[str, Any]]:
    """The rota of a YAML document, and its extension sections (see ``EXTENSION_KEYS``)."""
    if isinstance(source, Path):
        try:
            text = source.read_text(encoding="utf-8")
        except OSError as error:
            raise RotaError([f"(file): cannot read {source}: {error.strerror}"]) from None
    else:
        text = source
    try:
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        raise RotaError([f"(yaml): bad YAML syntax at {where}: {error.problem}"]) from None
    except yaml.YAMLError as error:
        raise RotaError([f"(yaml): bad YAML syntax: {error}"]) from None
    extensions: dict[str, Any] = {}
    if isinstance(data, Mapping):
        data = dict(data)
        extensions = {key: data.pop(key) for key in EXTENSION_KEYS if key in data}
    return parse_rota(data), extensions


def _plain(value: Any) -> Any:
    """Dump-friendly values: ISO datetimes, ``HH:MM`` times, plain lists and strings."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, time):
        return value.isoformat(timespec="minutes" if not value.second else "seconds")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "value") and isinstance(value.value, str):  # StrEnum
        return value.value
    return value


class _Dumper(yaml.SafeDumper):
    """Dumps strings that YAML 1.1 readers would mistake (``no``, ``16:00``) quoted."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    risky = re.match(r"^(?:[0-9:.+\-]+|y|n|yes|no|on|off|true|false|null|~)$", value, re.I)
    style = "'" if risky else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump_rota_yaml(spec: RotaSpec) -> str:
    """YAML text of a rota; defaults are left out so the file stays short."""
    data = spec.model_dump(by_alias=True, exclude_defaults=True)
    # Keep required-but-defaulted shapes readable: the team block is always written in full.
    data["team"] = spec.team.model_dump(by_alias=True)
    if "groups" in data:  # written as the file holds them: {name: [member ids]}
        data["groups"] = {g.name: list(g.members) for g in spec.groups}
    if spec.team.fatigue == type(spec.team.fatigue)():
        del data["team"]["fatigue"]  # the defaults: written only when a team sets its own
    else:
        data["team"]["fatigue"] = spec.team.fatigue.model_dump(exclude_defaults=True)
    return yaml.dump(_plain(data), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
