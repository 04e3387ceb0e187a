"""The conformance checks, one module per part of the protocol. Run them through ``vk-conformance``.

Each check is one test with a name that says the rule it checks; a check of an optional capability is skipped,
naming the capability, when the provider does not declare it; every failure says what was expected and what the
provider answered. Module order (handshake first, bookkeeping last) is set by ``vk_conformance.plugin``.
"""
