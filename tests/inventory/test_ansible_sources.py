"""Inventories as teams write them: group_vars/host_vars with Ansible's precedence (checked
against the real ``ansible-inventory``), dynamic inventory scripts, saved ``--list`` JSON,
inventory plugins through ``ansible-inventory``, and Ansible's SSH variables."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from bot.ansible_inventory import _load_file, _source_files, load_ansible_inventory
from bot.ansible_inventory import dynamic as dyn
from bot.ansible_inventory.dynamic import ansible_inventory_command
from bot.ansible_inventory.model import AnsibleInventory
from bot.ansible_inventory.static import load_ini
from bot.ansible_inventory.varsfiles import VarsFiles
from bot.config import parse_config
from bot.inventory import Inventory, InventoryError

FIX = Path(__file__).parent / "fixtures" / "teamrepo"
ANSIBLE_INVENTORY = ansible_inventory_command()
needs_ansible = pytest.mark.skipif(
    ANSIBLE_INVENTORY is None, reason="ansible-inventory (pip ansible-core, a test dependency) is not installed"
)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    shutil.copytree(FIX, tmp_path / "repo")
    return tmp_path / "repo"


def merged(inventory_dir: Path, playbook_dir: Path | None) -> dict[str, dict[str, Any]]:
    """Our merged vars per host, for the same sources Ansible reads."""
    inv = AnsibleInventory()
    inv.vars_dirs.append(inventory_dir)
    for f in _source_files(inventory_dir):
        if f.name not in ("group_vars", "host_vars"):
            _load_file(f, inv, playbook_dir, 10)
    files = VarsFiles()
    return {h: inv.merged_vars(h, files, playbook_dir)[0] for h in inv.hosts}


def normal(v: Any) -> Any:
    """INI values are strings for us and Python literals for Ansible: compare as text."""
    if isinstance(v, dict):
        return {str(k): normal(x) for k, x in v.items()}
    if isinstance(v, list):
        return [normal(x) for x in v]
    return str(v)


# ---------------------------------------------------------------- precedence


def test_group_vars_host_vars_precedence(repo: Path):
    hosts = load_ansible_inventory([repo / "inventory"], playbook_dir=repo / "playbooks")
    assert set(hosts) == {"db01", "db02", "db03", "web01", "web02"}  # README.md is skipped
    v = {h: merged(repo / "inventory", repo / "playbooks")[h] for h in hosts}
    # host_vars/ beats the inventory file's inline host var, which beats every group layer
    assert v["db01"]["layer"] == "db01-host_vars"
    assert v["db02"]["layer"] == "db02-host_vars"  # a host_vars file without extension
    assert v["db03"]["layer"] == "db03-playbook-host_vars"  # host_vars beside the playbook dir
    # group_vars/all (file) beats the inventory file's [web] vars; the playbook's all beats the inventory's
    assert v["web01"]["layer"] == v["web02"]["layer"] == "all-playbook"
    # child group files beat parent group files; priority beats name among equal depth
    assert v["db02"]["grp_file"] == "replica" and v["db02"]["tier"] == "aaa"
    # playbook group_vars/GROUP beat inventory group_vars/GROUP
    assert v["db01"]["pg_shared"] == "playbook"
    # a group_vars directory: every file, sorted, recursively; hidden, backup, other extensions skipped
    assert v["db01"]["primary_order"] == [10, 20, 30]
    assert "ansible_group_priority" not in v["db02"]
    db01 = hosts["db01"]
    assert (db01.address, db01.user, db01.services) == ("198.18.0.11", "probe", {"postgres": 5432, "metrics": 9187})
    assert db01.proxy_jump == "probe@bastion01:2222"
    assert db01.client_keys == ("/etc/whycant/keys/db.key",)
    assert hosts["db03"].proxy_jump == "bastion01,probe@bastion02:2200"
    assert hosts["db02"].services == {"postgres": 5432}
    assert hosts["web02"].user == "probe" and hosts["web02"].groups == ("web",)


def test_without_playbook_dir_only_inventory_side_files(repo: Path):
    v = merged(repo / "inventory", None)
    assert v["web01"]["layer"] == "all-group_vars"
    assert v["db01"]["pg_shared"] == "inventory"
    assert v["db03"]["layer"] == "replica-group_vars"


@needs_ansible
@pytest.mark.parametrize("playbook", [True, False])
def test_precedence_matches_ansible_inventory(repo: Path, playbook: bool):
    """Every variable of every host equals what the real ansible-inventory computes."""
    argv = [str(ANSIBLE_INVENTORY), "-i", str(repo / "inventory"), "--list"]
    if playbook:
        argv += ["--playbook-dir", str(repo / "playbooks")]
    out = subprocess.run(
        argv, capture_output=True, text=True, timeout=120, check=True, env={**os.environ, "ANSIBLE_NOCOLOR": "1"}
    )
    theirs = json.loads(out.stdout)["_meta"]["hostvars"]
    ours = merged(repo / "inventory", repo / "playbooks" if playbook else None)
    assert set(ours) == set(theirs)
    for host in ours:
        assert normal(ours[host]) == normal(theirs[host]), host


def test_config_key_ansible_playbook_dir(repo: Path):
    cfg = parse_config({"inventory": ["inventory"], "ansible_playbook_dir": "playbooks"}, str(repo / "whycant.yaml"))
    inv = Inventory.from_config(cfg)
    assert inv.get("db03").proxy_jump == "bastion01,probe@bastion02:2200"
    cfg = parse_config({"inventory": ["inventory"], "ansible_playbook_dir": "nope"}, str(repo / "whycant.yaml"))
    with pytest.raises(InventoryError, match="ansible_playbook_dir: .*nope is not a directory"):
        Inventory.from_config(cfg)


def test_config_hosts_keep_ansible_ssh_fields(repo: Path):
    cfg = parse_config(
        {"inventory": ["inventory/hosts.ini"], "hosts": {"db01": {"note": "primary"}}}, str(repo / "whycant.yaml")
    )
    db01 = Inventory.from_config(cfg).get("db01")
    assert db01.note == "primary" and db01.proxy_jump == "probe@bastion01:2222"


def test_bad_variable_names_the_vars_file(repo: Path):
    (repo / "inventory" / "group_vars" / "pg.yaml").write_text("ansible_port: 99999\n")
    with pytest.raises(InventoryError, match=r"group_vars/pg\.yaml: ansible_port: port 99999 is not in 1\.\.65535"):
        load_ansible_inventory([repo / "inventory"])


def test_vars_file_not_a_mapping(repo: Path):
    (repo / "inventory" / "host_vars" / "web01.yml").write_text("- a\n- b\n")
    with pytest.raises(InventoryError, match=r"host_vars/web01\.yml: a vars file must be a mapping"):
        load_ansible_inventory([repo / "inventory"])


def test_vars_file_bad_yaml_names_line(repo: Path):
    (repo / "inventory" / "host_vars" / "web01.yml").write_text("a: 1\nb: [\n")
    with pytest.raises(InventoryError, match=r"host_vars/web01\.yml:\d+: not valid YAML"):
        load_ansible_inventory([repo / "inventory"])


def test_vault(repo: Path):
    gv = repo / "inventory" / "group_vars"
    (gv / "web.yml").write_text("db_password: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\nnote: !unsafe '{{ x }}'\n")
    hosts = load_ansible_inventory([repo / "inventory"])  # secrets whycant never uses do no harm
    assert hosts["web01"].address == "198.18.0.21"
    (gv / "web.yml").write_text("ansible_user: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n")
    with pytest.raises(InventoryError, match=r"group_vars/web\.yml:1: ansible_user is vault-encrypted"):
        load_ansible_inventory([repo / "inventory"])
    (gv / "web.yml").write_text("$ANSIBLE_VAULT;1.1;AES256\n6162\n")
    with pytest.raises(InventoryError, match=r"web\.yml: the whole file is encrypted with ansible-vault"):
        load_ansible_inventory([repo / "inventory"])


# ---------------------------------------------------------------- Ansible SSH variables


def ini_host(line: str) -> Any:
    inv = AnsibleInventory()
    load_ini(f"[g]\n{line}\n", "t.ini", inv)
    return inv.to_hosts()["h1"]


@pytest.mark.parametrize(
    ("args", "jump"),
    [
        ("ansible_ssh_common_args='-o ProxyJump=bastion01'", "bastion01"),
        ("ansible_ssh_common_args='-o \"ProxyJump bob@bastion01:2222\"'", "bob@bastion01:2222"),
        ("ansible_ssh_extra_args='-J jump1,jump2:2200'", "jump1,jump2:2200"),
        ("ansible_ssh_extra_args='-Jjump1'", "jump1"),
        ("ansible_ssh_common_args='-o ProxyJump=[fd00::1]:22'", "[fd00::1]:22"),
        ("ansible_ssh_common_args='-o ProxyCommand=\"ssh -W %h:%p -q ops@bastion01 -p 2222\"'", "ops@bastion01:2222"),
        ("ansible_ssh_common_args='-o StrictHostKeyChecking=no -o ProxyJump=a' ansible_ssh_extra_args='-J b'", "b"),
        ("ansible_ssh_common_args='-o ProxyJump=none'", None),
        ("ansible_ssh_common_args='-o \"ProxyCommand ssh -o Port=22 -W %h:%p jump9\"'", "jump9"),
        ("ansible_ssh_common_args='-o ServerAliveInterval=5'", None),
    ],
)
def test_ssh_args_fill_proxy_jump(args: str, jump: str | None):
    assert ini_host(f"h1 {args}").proxy_jump == jump


def test_ssh_keys_from_vars_and_args():
    h = ini_host(
        "h1 ansible_ssh_private_key_file=~/.ssh/ops ansible_ssh_common_args='-i /k/one -o IdentityFile=/k/two'"
    )
    assert h.client_keys == ("~/.ssh/ops", "/k/one", "/k/two")
    assert ini_host("h1 ansible_private_key_file=/k/x").client_keys == ("/k/x",)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            "ansible_ssh_common_args='-o ProxyCommand=\"nc -X connect -x proxy:3128 %h %p\"'",
            "not `ssh -W %h:%p JUMPHOST`",
        ),
        ("ansible_ssh_common_args='-o ProxyJump=bad;host'", "ProxyJump host 'bad;host' is not a valid host name"),
        ("ansible_ssh_common_args='-o ProxyJump=a:99999'", "port 99999 is not in 1..65535"),
        ("ansible_ssh_common_args='-J'", "ssh option -J needs a value"),
        ("ansible_ssh_common_args='-o ProxyJump=\"unterminated'", "cannot parse ssh arguments"),
    ],
)
def test_ssh_args_errors(args: str, message: str):
    with pytest.raises(InventoryError, match=r"t\.ini:2: .*" + re.escape(message)):
        ini_host(f"h1 {args}")


# ---------------------------------------------------------------- dynamic inventories


def script(path: Path, body: str) -> Path:
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


LIST = {
    "_meta": {
        "hostvars": {
            "db01": {"ansible_host": "198.18.0.11", "whycant_services": {"postgres": 5432}},
            "web01": {"ansible_host": "198.18.0.21"},
        }
    },
    "all": {"children": ["ungrouped", "pg", "web"]},
    "pg": {"hosts": ["db01"], "vars": {"ansible_user": "probe"}},
    "web": ["web01"],  # the old list-only group form
}


def test_script_with_meta(tmp_path: Path):
    script(
        tmp_path / "inv.py",
        f"""
        import json, sys
        assert sys.argv[1:] == ["--list"], sys.argv
        print(json.dumps({LIST!r}))
    """,
    )
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "web.yml").write_text("ansible_user: webprobe\n")
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "host_vars" / "db01.yml").write_text("ansible_port: 2222\n")
    hosts = load_ansible_inventory([tmp_path / "inv.py"])
    assert hosts["db01"].address == "198.18.0.11" and hosts["db01"].port == 2222
    assert hosts["db01"].user == "probe" and hosts["db01"].services == {"postgres": 5432}
    assert hosts["web01"].user == "webprobe"  # group_vars beside a script apply, as in Ansible
    assert hosts["db01"].groups == ("pg",)


def test_script_without_meta_asks_host(tmp_path: Path):
    log = tmp_path / "calls.log"
    script(
        tmp_path / "inv",
        f"""
        import json, sys
        open({str(log)!r}, "a").write(" ".join(sys.argv[1:]) + "\\n")
        if sys.argv[1] == "--list":
            print(json.dumps({{"pg": {{"hosts": ["db01", "db02"]}}}}))
        else:
            print(json.dumps({{"ansible_host": "198.18.0.1" + sys.argv[2][-1]}}))
    """,
    )
    hosts = load_ansible_inventory([tmp_path / "inv"])
    assert {h: x.address for h, x in hosts.items()} == {"db01": "198.18.0.11", "db02": "198.18.0.12"}
    assert log.read_text().split("\n")[:3] == ["--list", "--host db01", "--host db02"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "import sys; sys.stderr.write('cloud API said no\\n'); sys.exit(2)",
            "exited with status 2: cloud API said no",
        ),
        ("print('not json')", "did not print JSON"),
        ("import time; time.sleep(30)", "did not finish within 1 s"),
        ("print('[1, 2]')", "inventory JSON must be an object of groups, not a list"),
        (
            "import json; print(json.dumps({'pg': {'hosts': ['db;rm -rf']}, '_meta': {'hostvars': {}}}))",
            "'db;rm -rf' is not a valid host name",
        ),
    ],
)
def test_script_failures_are_clear(tmp_path: Path, body: str, message: str):
    script(tmp_path / "inv.py", body + "\n")
    with pytest.raises(InventoryError, match=re.escape(message)) as e:
        load_ansible_inventory([tmp_path / "inv.py"], timeout=1)
    assert str(tmp_path / "inv.py") in str(e.value)


def test_script_runs_without_shell(tmp_path: Path):
    d = tmp_path / "dir with $(touch pwned) space"
    d.mkdir()
    script(d / "inv;x.py", f"import json; print(json.dumps({LIST!r}))\n")
    assert set(load_ansible_inventory([d / "inv;x.py"])) == {"db01", "web01"}
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()


def test_saved_ansible_inventory_list_json(tmp_path: Path):
    (tmp_path / "inventory.json").write_text(json.dumps(LIST))
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "all.yml").write_text("ansible_port: 2200\n")
    hosts = load_ansible_inventory([tmp_path / "inventory.json"])
    assert hosts["db01"].services == {"postgres": 5432} and hosts["web01"].address == "198.18.0.21"
    # saved --list output is already merged by Ansible: vars files beside it are not applied again
    assert hosts["db01"].port == 22


def test_non_executable_script_is_read_as_a_file(tmp_path: Path):
    p = tmp_path / "inv.py"
    p.write_text("#!/bin/sh\necho oops\n")
    with pytest.raises(InventoryError, match="inv.py"):
        load_ansible_inventory([p])


@needs_ansible
def test_real_ansible_inventory_list_output(repo: Path, tmp_path: Path):
    """Output saved from the real ansible-inventory gives the hosts whycant builds itself."""
    out = subprocess.run(
        [str(ANSIBLE_INVENTORY), "-i", str(repo / "inventory"), "--playbook-dir", str(repo / "playbooks"), "--list"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    saved = tmp_path / "saved.json"
    saved.write_text(out.stdout)
    assert load_ansible_inventory([saved]) == load_ansible_inventory(
        [repo / "inventory"], playbook_dir=repo / "playbooks"
    )


@needs_ansible
def test_plugin_source_through_ansible_inventory(tmp_path: Path):
    (tmp_path / "gen.yml").write_text(
        textwrap.dedent("""\
        plugin: ansible.builtin.generator
        hosts:
          name: "{{ role }}{{ n }}"
          parents:
            - name: "{{ role }}"
        layers:
          role: [db, web]
          n: ["01", "02"]
    """)
    )
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "db.yml").write_text("whycant_services: {postgres: 5432}\nansible_user: probe\n")
    hosts = load_ansible_inventory([tmp_path / "gen.yml"])
    assert set(hosts) == {"db01", "db02", "web01", "web02"}
    assert hosts["db01"].services == {"postgres": 5432} and hosts["db01"].user == "probe"
    assert hosts["web01"].groups == ("web",) and hosts["web01"].user is None


@needs_ansible
def test_toml_through_ansible_inventory(tmp_path: Path):
    (tmp_path / "hosts.toml").write_text('[pg.hosts.db9]\nansible_host = "198.18.0.9"\n')
    assert load_ansible_inventory([tmp_path / "hosts.toml"])["db9"].address == "198.18.0.9"


@needs_ansible
def test_plugin_errors_are_clear(tmp_path: Path):
    (tmp_path / "bad.yml").write_text("plugin: no.such.plugin_at_all\n")
    with pytest.raises(InventoryError, match=r"ansible-inventory -i .*bad\.yml: exited with status"):
        load_ansible_inventory([tmp_path / "bad.yml"])


def test_plugin_without_ansible_inventory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(dyn, "ansible_inventory_command", lambda: None)
    (tmp_path / "aws_ec2.yml").write_text("plugin: amazon.aws.aws_ec2\n")
    with pytest.raises(
        InventoryError,
        match=r"aws_ec2\.yml: an inventory plugin config \(plugin: amazon\.aws\."
        r"aws_ec2\); reading it needs ansible-inventory",
    ):
        load_ansible_inventory([tmp_path / "aws_ec2.yml"])
