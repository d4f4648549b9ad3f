"""The pacemaker-remote charm's options, loaded by ops into one :class:`RemoteConfig`.

``remote-hostname`` and ``stonith-hostname`` default to the machine's FQDN; a value that
is not a host name is refused with a message naming the option (the charm blocks on it,
and writes nothing). The nagios options are read by the observability library.
"""

from __future__ import annotations

import dataclasses

from openstack_charm_lib.network import is_hostname


@dataclasses.dataclass(frozen=True)
class RemoteConfig:
    """Validated options; construct with ``CharmBase.load_config(RemoteConfig, fqdn=...)``."""

    fqdn: str  # this machine's, the default of both names
    enable_stonith: bool = False
    enable_resources: bool = False
    remote_hostname: str = ""
    stonith_hostname: str = ""

    def __post_init__(self):
        # Juju's values as given, then the names as used: stripped, defaulted.
        object.__setattr__(self, "remote_hostname", self.remote_hostname.strip() or self.fqdn)
        object.__setattr__(self, "stonith_hostname", self.stonith_hostname.strip() or self.fqdn)
        if not is_hostname(self.remote_hostname):
            raise ValueError(f"remote-hostname {self.remote_hostname!r} is not a valid host name")
        if self.enable_stonith and not is_hostname(self.stonith_hostname):
            raise ValueError(
                f"stonith-hostname {self.stonith_hostname!r} is not a valid host name"
            )

    @property
    def stonith_name(self) -> str | None:
        """The MAAS name hacluster fences this machine by; None without enable-stonith."""
        return self.stonith_hostname if self.enable_stonith else None
