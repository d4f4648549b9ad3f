"""Shared library of the Masakari charm suite.

Staged into each charm's ``lib/`` by ``tools/stage_lib.py``; charms import it as
``openstack_charm_lib``. Modules: ``host`` (files, commands, facts of the machine),
``apt`` (packages and install sources), ``releases`` (OpenStack/Ubuntu release tables),
``rendering`` (templates, change detection, restart map), ``services`` (systemd),
``status`` (one honest status), ``relations`` (one module per relation),
``hacluster`` (the ``ha`` relation payload), ``network`` (addresses and endpoints),
``tls`` (certificate requests and files), ``config_flags`` (section-aware overrides),
``pacemaker_node`` (the
Pacemaker node name pacemaker-remote tells masakari-monitors), ``policy_overrides``
(the ``policyd-override`` resource of oslo.policy rules), ``fields`` and ``pem``
(checks of relation fields and PEM material), ``actions`` and ``charm_base`` (the
reconciling charm and its service actions), ``observability`` (what a unit offers to be
watched: its health daemon, ``cos_agent`` (the COS collector's relation) and ``nrpe``
(nrpe-external-master checks, with the plugins in ``nagios_plugins/``)), and the
standard-library-only modules the health daemons run on: ``exporter`` (Prometheus text
format and server) and ``liveness`` (whether a service's main process makes progress).

``__version__`` is what each charm's ``pyproject.toml`` records under
``[tool.openstack-charm-lib]``; staging refuses a charm that records another version,
and writes the version and a digest of the staged files into the copy
(``STAGED``), so a packed charm says which library it carries.
``RUNTIME_DEPENDENCIES`` are the distributions the library imports, which every
charm's ``dependencies`` must list.
"""

__version__ = "3.0.0"
RUNTIME_DEPENDENCIES = ("ops", "jinja2")
