"""Shared library of the Masakari charm suite.

Staged into each charm's ``lib/`` by ``tools/stage_lib.py``; charms import it as
``openstack_charm_lib``. Modules: ``host`` (files, commands, facts of the machine),
``apt`` (packages and install sources), ``releases`` (OpenStack/Ubuntu release tables),
``rendering`` (templates, change detection, restart map), ``services`` (systemd),
``status`` (one honest status), ``relations`` (readers/writers of OpenStack relations),
``hacluster`` (the ``ha`` relation payload), ``network`` (addresses and endpoints),
``tls`` (certificate requests and files), ``config_flags`` (section-aware overrides).
"""
