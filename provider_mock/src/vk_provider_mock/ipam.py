"""Pod IP addresses for the mock: deterministic, unique among live pods, from a documented range.

The mock runs nothing, so its addresses reach nothing; they exist so that the controller's status, Service
endpoint and env (``status.podIP``) paths see real-looking, distinct values, never a placeholder like 127.0.0.1.
The default range is ``10.244.0.0/16`` (``--pod-cidr``). A pod's address is derived from its UID (the first
free address at or after ``sha256(uid)`` modulo the range's size, skipping the network, the first host address and
the broadcast address), so the same pods get the same addresses in every run; it is stored in the state file and
kept for the pod's life.
"""

from __future__ import annotations

import hashlib
import ipaddress

from vk_provider_sdk import errors

DEFAULT_POD_CIDR = "10.244.0.0/16"


class AddressPool:
    def __init__(self, cidr: str = DEFAULT_POD_CIDR) -> None:
        self.network = ipaddress.ip_network(cidr, strict=False)
        if self.network.num_addresses < 8:
            raise ValueError(f"pod CIDR {cidr} is too small")
        self._used: set[str] = set()

    def reserve(self, address: str) -> None:
        """Mark an address (of a pod loaded from the state file) as used."""
        self._used.add(address)

    def allocate(self, uid: str) -> str:
        usable = self.network.num_addresses - 3  # not the network, the gateway-like first host, the broadcast
        start = int.from_bytes(hashlib.sha256(uid.encode()).digest()[:8], "big") % usable
        for step in range(usable):
            address = str(self.network[2 + (start + step) % usable])
            if address not in self._used:
                self._used.add(address)
                return address
        raise errors.ResourceExhausted(f"no free pod address left in {self.network}", reason="PodAddressesExhausted")

    def release(self, address: str) -> None:
        self._used.discard(address)

    def __len__(self) -> int:
        return len(self._used)


__all__ = ["DEFAULT_POD_CIDR", "AddressPool"]
