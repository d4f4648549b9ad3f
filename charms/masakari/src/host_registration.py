"""The charm's side of Masakari's API: who it is there, automatic registration, segment actions.

:class:`HostRegistration` joins three inputs the charm holds (the hypervisors related
on ``hosts``, the record of what the charm registered, kept in the peer relation, and
keystone's service credentials) to the API-facing modules: :mod:`registration` for the
leader's pass and :mod:`segment_actions` for the operator's actions. Those two modules
(and the recovery-timing rules) are imported only by the hooks that use them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import ops
from masakari_api import ApiError, Credentials, MasakariApi
from masakari_config import MasakariConfig
from masakari_status import Outcome, summarise
from openstack_charm_lib import actions
from openstack_charm_lib.relations import masakari_host
from openstack_charm_lib.relations.identity_service import Keystone
from peers import Peers

if TYPE_CHECKING:
    import registration

logger = logging.getLogger(__name__)

# Builds the API client from the credentials and the page size.
ApiFactory = Callable[..., MasakariApi]


def credentials(cfg: MasakariConfig, keystone: Keystone) -> Credentials:
    """The charm's keystone service user, for the API client and the exporter."""
    return Credentials(
        keystone_url=keystone.url("auth"),
        username=keystone.username,
        password=keystone.password,
        user_domain=keystone.domain,
        project=keystone.project,
        project_domain=keystone.domain,
        region=cfg.region,
        interface="internal" if cfg.use_internal_endpoints else "public",
    )


class HostRegistration:
    """Segments and hosts in masakari for the related hypervisors, and the segment actions."""

    def __init__(self, model: ops.Model, peers: Peers, api_factory: ApiFactory):
        self._model = model
        self._peers = peers
        self._api_factory = api_factory

    def _api(self, cfg: MasakariConfig, keystone: Keystone) -> MasakariApi:
        return self._api_factory(credentials(cfg, keystone), page_size=cfg.api_page_size)

    def _desired(self) -> masakari_host.Desired:
        return masakari_host.read(self._model.relations["hosts"])

    def _managed(self) -> registration.Managed:
        import registration

        return registration.Managed.loads(self._peers.registration_record())

    def reconcile(self, cfg: MasakariConfig, keystone: Keystone, outcome: Outcome) -> None:
        """Bring masakari's segments and hosts to what the related hypervisors ask."""
        import recovery_timing

        desired = self._desired()
        # Recovery, not registration: judged for hosts registered by hand too.
        too_short = recovery_timing.delay_problem(cfg.evacuation_delay, desired.hosts)
        if too_short:
            outcome.blocked.append(too_short)
        outcome.warning = recovery_timing.resume_warning(desired.hosts)
        if not cfg.auto_register_hosts or not self._peers.joined:
            return
        managed = self._managed()
        problems = [f"hosts relation: {p}" for p in desired.problems]
        if desired.hosts or managed.hosts or managed.segments:
            problems += self._against_api(cfg, keystone, desired, managed, outcome)
        outcome.blocked.extend(summarise("host registration", problems))

    def _against_api(
        self,
        cfg: MasakariConfig,
        keystone: Keystone,
        desired: masakari_host.Desired,
        managed: registration.Managed,
        outcome: Outcome,
    ) -> list[str]:
        """One pass against the API; returns what needs the operator."""
        import registration

        settings = registration.Settings(cfg.recovery_method, cfg.service_type)
        api = self._api(cfg, keystone)
        try:
            report = registration.reconcile(api, desired.hosts, managed, settings)
        except ApiError as exc:
            outcome.waiting.append(f"host registration: {exc}; retrying on the next hook")
            return []
        if report.managed != managed:
            self._peers.record_registration(report.managed.dumps())
        if report.done:
            logger.info("host registration: %s", "; ".join(report.done))
        logger.debug("host registration calls: %s", dict(api.calls))
        outcome.waiting.extend(summarise("host registration", report.retry, " (retrying)"))
        if report.hosts:
            outcome.registered = f"; hosts registered: {report.hosts}, segments: {report.segments}"
        if report.drift:
            # Operators' changes the charm keeps: not a problem, but never silent.
            more = f" (+{len(report.drift) - 1} more)" if len(report.drift) > 1 else ""
            outcome.registered += f"; {report.drift[0]}{more}"
            logger.info("host registration kept: %s", "; ".join(report.drift))
        return report.blocked

    def run_action(
        self, name: str, params: Mapping[str, Any], cfg: MasakariConfig, keystone: Keystone | None
    ) -> dict[str, Any]:
        """Results of the segment action ``name``; raises ApiError or ActionRefusedError.

        ``keystone`` is None until identity-service holds the service credentials.
        """
        import segment_actions

        if keystone is None:
            raise actions.ActionRefusedError(
                "Needs the identity-service relation with keystone's credentials"
            )
        deployment = segment_actions.Deployment(
            managed=self._managed(),
            related_hosts=self._desired().hosts,
            auto_register=cfg.auto_register_hosts,
            recovery_method=cfg.recovery_method,
            service_type=cfg.service_type,
        )
        return segment_actions.run(name, self._api(cfg, keystone), params, deployment)
