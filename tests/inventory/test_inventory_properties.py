"""Property: any inventory text loads or fails with a BadInput naming the file — never a crash,
and whatever loads has names and addresses free of shell metacharacters."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.ansible_inventory.model import AnsibleInventory as _Ansible
from bot.ansible_inventory.static import load_ini as _load_ini
from bot.ansible_inventory.static import load_yaml as _load_yaml
from probes.errors import BadInput

SAFE = re.compile(r"[A-Za-z0-9_.:@-]+\Z")
INI_PIECES = st.sampled_from(
    [
        "[db]",
        "[db:children]",
        "[db:vars]",
        "[web",
        "[x:y]",
        "db01",
        "web[01:03]",
        "w[a:c]",
        "h[3:1]",
        "h[1:99999]",
        "ansible_host=10.0.0.1",
        "ansible_port=22",
        "ansible_port=0",
        "ansible_user=root",
        "ansible_host='a b'",
        "ansible_connection=local",
        'whycant_services="pg:5432"',
        "whycant_services=pg",
        "x=1",
        "#c",
        ";c",
        "=",
        "$(id)",
        "a;b",
        "'",
        '"',
        "h:2222",
        "[2001:db8::1]",
        "\t",
        "é",
        "all",
    ]
)
YAML_PIECES = st.sampled_from(
    [
        "all:",
        "  hosts:",
        "  children:",
        "  vars:",
        "    db01:",
        "    db01: {ansible_host: 10.0.0.1}",
        "    - db01",
        "    db:",
        "      hosts:",
        "        web[1:2]:",
        "        h: {ansible_port: x}",
        "&a",
        "*a",
        "{",
        "[",
        ":",
        "- ",
        "    h: {whycant_services: {pg: 5432}}",
        "    h: {whycant_aliases: [a, 'b;c']}",
        "  foo: 1",
        "---",
        "? [a]",
    ]
)


def check_loaded(inv: _Ansible) -> None:
    try:
        hosts = inv.to_hosts()
    except BadInput:
        return
    for h in hosts.values():
        for s in (h.name, h.address, *h.aliases, *h.services, *h.groups, *([h.user] if h.user else [])):
            assert SAFE.match(s), s
        assert 1 <= h.port <= 65535


@settings(max_examples=700)
@given(
    st.one_of(
        st.lists(INI_PIECES, max_size=12).map(
            lambda xs: "\n".join(" ".join(xs[i : i + 2]) for i in range(0, len(xs), 2))
        ),
        st.text(max_size=200),
    )
)
def test_ini_never_crashes(text):
    inv = _Ansible()
    try:
        _load_ini(text, "f.ini", inv)
    except BadInput as e:
        assert str(e).startswith("f.ini:")
        return
    check_loaded(inv)


@settings(max_examples=700)
@given(st.one_of(st.lists(YAML_PIECES, max_size=12).map("\n".join), st.text(max_size=200)))
def test_yaml_never_crashes(text):
    inv = _Ansible()
    try:
        _load_yaml(text, "f.yml", inv)
    except BadInput as e:
        assert str(e).startswith("f.yml")
        return
    check_loaded(inv)
