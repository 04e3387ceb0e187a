"""$(VAR) expansion with the kubelet's rules, container environments, and what is left to the provider."""

from __future__ import annotations

import pytest

from vk_controller.pods.expansion import ContainerEnvironment, Expanded, RuntimeReference, expand, variables
from vk_controller.pods.resolved import ResolvedEnvVar, RuntimeValue

ENV = {"VAR_A": "A", "VAR_B": "B", "EMPTY": "", "MONEY": "$", "PAREN": "$(VAR_A)"}


@pytest.mark.parametrize(
    ("text", "expanded"),
    [
        ("$(VAR_A)", "A"),
        ("___$(VAR_B)___", "___B___"),
        ("$(VAR_A)-$(VAR_A)", "A-A"),
        ("$(VAR_A)$(VAR_B)", "AB"),
        ("$(EMPTY)x", "x"),
        ("$(UNDEFINED)", "$(UNDEFINED)"),  # undefined: left as written
        ("$(VAR_A) $(UNDEFINED)", "A $(UNDEFINED)"),
        ("$$(VAR_A)", "$(VAR_A)"),  # $$ escapes the reference
        ("$$$(VAR_A)", "$A"),
        ("$$$$(VAR_A)", "$$(VAR_A)"),
        ("$$", "$"),
        ("$$$", "$$"),
        ("$", "$"),  # a lone $ stays
        ("x$", "x$"),
        ("$VAR_A", "$VAR_A"),  # $ before anything but ( or $ stays
        ("$(VAR_A", "$(VAR_A"),  # unterminated: kept as is
        ("$(", "$("),
        ("$()", "$()"),
        ("$($(VAR_A)", "$($(VAR_A)"),  # the name runs to the first ")": "$(VAR_A" is not defined
        ("$(VAR_A)$", "A$"),
        ("f000-$$VAR_A", "f000-$VAR_A"),
        ("$(MONEY)(VAR_A)", "$(VAR_A)"),  # values are not expanded again
        ("$(PAREN)", "$(VAR_A)"),
        ("héllo $(VAR_A) wörld", "héllo A wörld"),
        ("no references", "no references"),
        ("", ""),
    ],
)
def test_expand_follows_the_kubelet_rules(text: str, expanded: str) -> None:
    assert expand(text, ENV) == expanded


def test_variables_lists_the_names_referenced_but_not_escaped_ones() -> None:
    assert variables("$(A)/$$(B)/$(C)/$(A)/$(D") == ["A", "C", "A"]


def env(*entries: ResolvedEnvVar, service: dict[str, str] | None = None) -> ContainerEnvironment:
    return ContainerEnvironment(entries, service or {})


def values(environment: ContainerEnvironment) -> dict[str, str]:
    return {var.name: var.value.text(runtime_expansion=False) for var in environment.vars}


def test_an_env_value_sees_the_vars_defined_before_it_not_after() -> None:
    environment = env(
        ResolvedEnvVar("A", "a", expand=True),
        ResolvedEnvVar("B", "$(A)-$(C)", expand=True),
        ResolvedEnvVar("C", "c", expand=True),
    )

    assert values(environment) == {"A": "a", "B": "a-$(C)", "C": "c"}


def test_values_from_sources_are_taken_as_they_are() -> None:
    environment = env(
        ResolvedEnvVar("A", "a", expand=True),
        ResolvedEnvVar("FROM_CONFIG", "$(A)"),
    )

    assert values(environment)["FROM_CONFIG"] == "$(A)"


def test_service_env_is_usable_and_added_after_the_containers_own_vars() -> None:
    environment = env(
        ResolvedEnvVar("URL", "http://$(DB_SERVICE_HOST)", expand=True),
        ResolvedEnvVar("DB_SERVICE_PORT", "override", expand=True),
        service={"DB_SERVICE_HOST": "10.0.0.5", "DB_SERVICE_PORT": "5432"},
    )

    assert list(values(environment).items()) == [
        ("URL", "http://10.0.0.5"),
        ("DB_SERVICE_PORT", "override"),
        ("DB_SERVICE_HOST", "10.0.0.5"),
    ]


def test_a_later_entry_of_the_same_name_wins_and_the_name_appears_once() -> None:
    environment = env(
        ResolvedEnvVar("A", "from-config-map"),
        ResolvedEnvVar("B", "$(A)", expand=True),
        ResolvedEnvVar("A", "literal", expand=True),
    )

    assert list(values(environment).items()) == [("A", "literal"), ("B", "from-config-map")]
    assert environment.expand("$(A)").text(runtime_expansion=False) == "literal"


def test_a_value_built_from_a_secret_is_sensitive_too() -> None:
    environment = env(
        ResolvedEnvVar("PASSWORD", "hunter2", sensitive=True),
        ResolvedEnvVar("DSN", "postgres://app:$(PASSWORD)@db", expand=True),
        ResolvedEnvVar("PLAIN", "x", expand=True),
    )

    sensitive = {var.name: var.sensitive for var in environment.vars}
    assert sensitive == {"PASSWORD": True, "DSN": True, "PLAIN": False}
    assert environment.expand("--dsn=$(DSN)").sensitive


def test_references_to_runtime_values_are_left_in_place() -> None:
    environment = env(
        ResolvedEnvVar("MY_IP", runtime=RuntimeValue.POD_IP),
        ResolvedEnvVar("URL", "http://$(MY_IP):8080", expand=True),
    )

    url = environment.vars[1].value
    assert url.parts == ("http://", RuntimeReference("MY_IP", RuntimeValue.POD_IP), ":8080")
    assert environment.expand("--listen=$(URL)").references == (RuntimeReference("MY_IP", RuntimeValue.POD_IP),)
    assert environment.vars[0].runtime is RuntimeValue.POD_IP


def test_in_kubernetes_syntax_literal_dollars_are_escaped_and_runtime_references_kept() -> None:
    environment = env(
        ResolvedEnvVar("MY_IP", runtime=RuntimeValue.POD_IP),
        ResolvedEnvVar("PRICE", "$5"),
    )

    expanded = environment.expand("echo $(MY_IP) $(PRICE) $$HOME $(UNDEFINED) $(")

    # The provider's one pass ($$ -> $, $(MY_IP) -> the IP) then gives what the kubelet would.
    assert expanded.text(runtime_expansion=True) == "echo $(MY_IP) $$5 $$HOME $$(UNDEFINED) $$("


def test_final_text_of_a_string_with_a_runtime_reference_is_refused() -> None:
    expanded = Expanded((RuntimeReference("MY_IP", RuntimeValue.POD_IP),))

    with pytest.raises(ValueError, match="known only at runtime"):
        expanded.text(runtime_expansion=False)


def test_a_runtime_reference_is_stale_once_a_later_entry_replaces_the_variable() -> None:
    environment = env(
        ResolvedEnvVar("IP", runtime=RuntimeValue.POD_IP),
        ResolvedEnvVar("URL", "http://$(IP)", expand=True),
        ResolvedEnvVar("IP", "127.0.0.1", expand=True),
    )

    (reference,) = environment.vars[1].value.references
    assert not environment.is_current(reference)
    assert environment.is_current(RuntimeReference("OTHER", RuntimeValue.HOST_IP)) is False


def test_an_empty_literal_is_not_expanded_and_stays_empty() -> None:
    environment = env(ResolvedEnvVar("EMPTY", "", expand=True))

    assert environment.vars[0].value == Expanded()
    assert values(environment) == {"EMPTY": ""}
