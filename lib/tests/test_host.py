"""The real Host: atomic writes with ownership and mode, change detection, commands."""

from __future__ import annotations

import grp
import os
import pwd

import pytest
from openstack_charm_lib.host import CommandError, Host, Write

USER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


def test_write_reports_content_permission_and_no_change(tmp_path):
    host = Host(tmp_path)
    assert (
        host.write_file("/etc/x/secret.conf", "a=1\n", owner=USER, group=GROUP, mode=0o640)
        is Write.CONTENT
    )
    target = tmp_path / "etc/x/secret.conf"
    assert target.read_text() == "a=1\n"
    assert target.stat().st_mode & 0o777 == 0o640
    assert host.stat_owner_mode("/etc/x/secret.conf") == (USER, GROUP, 0o640)
    assert (
        host.write_file("/etc/x/secret.conf", "a=1\n", owner=USER, group=GROUP, mode=0o640)
        is Write.UNCHANGED
    )
    assert (
        host.write_file("/etc/x/secret.conf", "a=1\n", owner=USER, group=GROUP, mode=0o600)
        is Write.PERMISSIONS
    )
    assert target.stat().st_mode & 0o777 == 0o600
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".")]


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    host = Host(tmp_path)
    host.write_file("/f", "old", owner=USER, group=GROUP)

    def broken_chown(path, owner, group):
        raise PermissionError("no")

    monkeypatch.setattr(host, "chown", broken_chown)
    with pytest.raises(PermissionError):
        host.write_file("/f", "new", owner=USER, group=GROUP)
    assert (tmp_path / "f").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]


def test_read_remove_and_exists(tmp_path):
    host = Host(tmp_path)
    assert host.read_text("/missing") is None
    assert host.stat_owner_mode("/missing") is None
    assert not host.remove_file("/missing")
    host.write_file("/present", b"\x00bytes", owner=USER, group=GROUP)
    assert host.exists("/present")
    assert host.read_bytes("/present") == b"\x00bytes"
    assert host.remove_file("/present")


def test_run_captures_and_raises_without_leaking_more_than_the_tail(tmp_path):
    host = Host(tmp_path)
    assert host.run(["sh", "-c", "echo hi"]).stdout == "hi\n"
    assert host.run(["sh", "-c", "echo $X"], env={"X": "y"}).stdout == "y\n"
    with pytest.raises(CommandError) as err:
        host.run(["sh", "-c", "exit 3"])
    assert err.value.returncode == 3
    assert str(err.value) == "sh exited 3"
    assert host.run(["does-not-exist-cmd"], check=False).returncode == 127


def test_facts(tmp_path):
    host = Host(tmp_path)
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/os-release").write_text('ID=ubuntu\nVERSION_CODENAME="noble"\n# c\n')
    assert host.os_release() == {"ID": "ubuntu", "VERSION_CODENAME": "noble"}
    assert host.cpu_count() >= 1
    assert host.fqdn()
    assert host.hostname()
    assert host.resolves("localhost")
    assert not host.resolves("no-such-host.invalid")
    (tmp_path / "proc/net").mkdir(parents=True)
    (tmp_path / "proc/net/tcp").write_text(
        "  sl  local_address rem_address   st\n"
        "   0: 0100007F:3DEC 00000000:0000 0A 00000000\n"
        "   1: 0100007F:1F90 0100007F:0001 01 00000000\n"
    )
    assert host.listening_tcp_ports() == {15852}


def test_read_text_of_a_file_that_is_not_utf8_replaces_the_bad_bytes(tmp_path):
    (tmp_path / "nova.conf").write_bytes(b"[DEFAULT]\nhost = node\xe9\n\xff\xfe\n")
    text = Host(tmp_path).read_text("/nova.conf")
    assert text == "[DEFAULT]\nhost = node\ufffd\n\ufffd\ufffd\n"
    assert Host(tmp_path).read_text("/absent") is None
