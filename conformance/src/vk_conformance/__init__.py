"""The provider conformance kit: checks any provider, by address, against the protocol's semantics."""
