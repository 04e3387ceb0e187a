"""``$(VAR)`` expansion in env values, command and args, with the kubelet's rules, and the part left to the provider.

The rules (``third_party/forked/golang/expansion``): ``$(NAME)`` becomes the value of NAME when NAME is defined and
stays ``$(NAME)`` when it is not; ``$$`` is an escaped ``$``; a ``$`` before anything else, a trailing ``$`` and an
unterminated ``$(`` stay as they are. Expansion is one pass: substituted values are not expanded again.

Some values are known only when the pod runs (``status.podIP`` and its siblings, ``RuntimeValue``). A reference to
such a variable cannot be expanded here, so the result is an ``Expanded``: literal text with the references left
in place. A container with any such reference is sent with ``runtime_expansion``: every string of it then goes in
Kubernetes syntax (literal ``$`` doubled, references as ``$(NAME)``), so that the provider's one pass gives what
the kubelet would. Otherwise the strings go as final text.

``ContainerEnvironment`` builds a container's environment as the kubelet's ``makeEnvironmentVariables`` does:
entries in order, each literal value expanded against the entries before it and the service env, later entries
replacing earlier ones of the same name, then the service env vars the container does not define.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from vk_controller.pods.resolved import ResolvedEnvVar, RuntimeValue


@dataclass(frozen=True)
class _Variable:
    name: str


def _tokens(text: str) -> Iterator[str | _Variable]:
    """Literal text (with escapes undone) and variable references, in order."""
    checkpoint = cursor = 0
    while cursor < len(text):
        if text[cursor] == "$" and cursor + 1 < len(text):
            if checkpoint < cursor:
                yield text[checkpoint:cursor]
            following = text[cursor + 1]
            closer = text.find(")", cursor + 2) if following == "(" else -1
            if following == "$":
                yield "$"
            elif closer >= 0:
                yield _Variable(text[cursor + 2 : closer])
                cursor = closer - 1
            else:
                yield "$" + following  # "$x", or an unterminated "$(": kept as written
            cursor += 1
            checkpoint = cursor + 1
        cursor += 1
    if checkpoint < len(text):
        yield text[checkpoint:]


def expand(text: str, env: Mapping[str, str]) -> str:
    """``text`` with every ``$(VAR)`` defined in ``env`` replaced by its value, as the kubelet expands it."""
    return "".join(
        token if isinstance(token, str) else env.get(token.name, f"$({token.name})") for token in _tokens(text)
    )


def variables(text: str) -> list[str]:
    """The names ``text`` refers to with ``$(NAME)``, in order."""
    return [token.name for token in _tokens(text) if isinstance(token, _Variable)]


@dataclass(frozen=True)
class RuntimeReference:
    """``$(NAME)`` left for the provider: NAME is an env var whose value only the running pod knows."""

    name: str
    value: RuntimeValue


@dataclass(frozen=True)
class Expanded:
    """A string after expansion: literal text and references to runtime values, in order.

    ``sensitive`` when a secret's value went into it.
    """

    parts: tuple[str | RuntimeReference, ...] = ()
    sensitive: bool = False

    @staticmethod
    def literal(text: str, *, sensitive: bool = False) -> Expanded:
        return Expanded((text,) if text else (), sensitive)

    @property
    def references(self) -> tuple[RuntimeReference, ...]:
        return tuple(part for part in self.parts if isinstance(part, RuntimeReference))

    def text(self, *, runtime_expansion: bool) -> str:
        """The string to send: final text, or Kubernetes syntax when the provider expands the container's strings."""
        if not runtime_expansion:
            if self.references:
                raise ValueError(f"$({self.references[0].name}) is known only at runtime")
            return "".join(str(part) for part in self.parts)
        return "".join(part.replace("$", "$$") if isinstance(part, str) else f"$({part.name})" for part in self.parts)


def expand_deferred(text: str, env: Mapping[str, Expanded]) -> Expanded:
    """As ``expand``, where the values may themselves hold runtime references (which are carried over)."""
    parts: list[str | RuntimeReference] = []
    sensitive = False
    for token in _tokens(text):
        if isinstance(token, str):
            parts.append(token)
        elif token.name in env:
            parts += env[token.name].parts
            sensitive = sensitive or env[token.name].sensitive
        else:
            parts.append(f"$({token.name})")
    merged: list[str | RuntimeReference] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        elif part:
            merged.append(part)
    return Expanded(tuple(merged), sensitive)


@dataclass(frozen=True)
class ContainerEnvVar:
    """One variable of a container's final environment: a value, or a runtime value the provider fills in."""

    name: str
    value: Expanded
    runtime: RuntimeValue | None = None
    sensitive: bool = False


class ContainerEnvironment:
    """A container's final environment, and the expansion of its command and args against it."""

    def __init__(self, entries: Iterable[ResolvedEnvVar], service_env: Mapping[str, str]) -> None:
        service = {name: Expanded.literal(value) for name, value in service_env.items()}
        defined: dict[str, Expanded] = {}
        final: dict[str, ContainerEnvVar] = {}
        for entry in entries:
            if entry.runtime is not None:
                defined[entry.name] = Expanded((RuntimeReference(entry.name, entry.runtime),), entry.sensitive)
                final[entry.name] = ContainerEnvVar(entry.name, Expanded(), entry.runtime, entry.sensitive)
                continue
            if entry.expand and entry.value:
                value = expand_deferred(entry.value, ChainMap(defined, service))
            else:
                value = Expanded.literal(entry.value)
            defined[entry.name] = Expanded(value.parts, entry.sensitive or value.sensitive)
            final[entry.name] = ContainerEnvVar(entry.name, value, None, entry.sensitive or value.sensitive)
        for name, value in service.items():
            if name not in final:
                defined[name] = value
                final[name] = ContainerEnvVar(name, value)
        self.vars: list[ContainerEnvVar] = list(final.values())
        self._defined = defined

    def expand(self, text: str) -> Expanded:
        """``text`` (a command or an arg) expanded against the final environment."""
        return expand_deferred(text, self._defined)

    def value(self, name: str) -> Expanded | None:
        """The final value of variable ``name`` (a runtime reference for runtime values); None if undefined."""
        return self._defined.get(name)

    def is_current(self, reference: RuntimeReference) -> bool:
        """Whether ``$(NAME)`` still means the runtime value it referred to when it was expanded.

        Not when a later entry of the same name replaced the variable: the kubelet would have substituted the
        runtime value, but the provider, which sees only the final environment, cannot.
        """
        current = self.value(reference.name)
        return current is not None and current.parts == (reference,)
